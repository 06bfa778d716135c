"""The cost ledger: one row per answered query and per index build (SQLAlchemy 2.x).

SQLite by default (WAL, busy timeout), PostgreSQL by URL; the schema comes from the
Alembic migrations in ``assistant.migrations``, run once under a lock at start-up.
``record`` only puts the row on a bounded queue; a background thread inserts in
batches, so the request path never waits for the database. ``flush`` waits for the
queue to drain; ``close`` flushes and stops the writer, so a clean shutdown loses
nothing.

When the database fails or stalls, rows go to a local spill file (``spill_dir``, see
``assistant.ledger_spill``) instead of memory: the writer spills a batch whose insert
failed, ``record`` spills directly while the writer is stalled for more than
``stall_s`` or rows are already waiting on disk, and when the queue is full. The
writer replays the spill with backoff until the database takes it; a new process
replays what a dead one left. So what ``kill -9`` can lose is bounded by the queue
(``max_queue`` rows, plus the batch in flight), and in practice is the rows of the
last moments before the kill (measured in the README). Without a spill folder a
failing batch is retried with backoff for ``retry_for_s`` and then dropped, and a row
that finds the queue full for ``stall_s`` is dropped (both counted in ``dropped``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from assistant.dates import as_utc
from assistant.errors import ConfigError
from assistant.ledger_db import create_ledger_engine, ledger_tables
from assistant.ledger_spill import SpillDir
from assistant.ledger_summary import summarize
from assistant.ledger_writer import LedgerWriter
from assistant.shared_engine import SharedEngine

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class QueryCost:
    """What one answered query cost, and where its time went (milliseconds)."""

    ts: datetime  # UTC
    request_id: str
    key_id: str  # sha256 of the API key id, or "anonymous"
    backend: str
    model: str
    endpoint: str  # ask | chat | cli | eval: where the question came in
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_exact: bool = True
    embed_tokens: int = 0
    cost_usd: float = 0.0
    cache: str = "miss"  # hit | semantic | miss
    saved_usd: float = 0.0  # on a hit: what the original answer cost
    embed_ms: float = 0.0
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0
    index_version: str = ""
    degraded: bool = False


class SqlCostLedger:
    """Cost ledger in SQLite or PostgreSQL, written by a background thread."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: sa.Engine | SharedEngine | None = None,
        table_prefix: str = "",
        spill_dir: Path | None = None,
        max_queue: int = 1000,
        stall_s: float = 1.0,
        retry_for_s: float = 30.0,
        on_record: Callable[[QueryCost], None] | None = None,
    ) -> None:
        if max_queue < 1 or stall_s <= 0 or retry_for_s < 0:
            raise ConfigError(
                f"ledger limits must be positive: max_queue={max_queue}, stall_s={stall_s}, "
                f"retry_for_s={retry_for_s}"
            )
        if url is not None and engine is not None:
            raise ConfigError("the cost ledger takes a database URL or an engine, not both")
        self.on_record = on_record  # e.g. assistant.metrics.observe_answer: once per row
        self.metadata, self.queries, self.builds = ledger_tables(table_prefix)
        if engine is None:  # its own engine, disposed when the ledger closes
            if url is None:
                raise ConfigError("the cost ledger needs a database URL or an engine")
            engine = SharedEngine(create_ledger_engine(url), url)
        # The factory's engine is shared with the other stores of the database (and
        # migrated once): closing the ledger lets go of it, the last store disposes it.
        self.database = SharedEngine.of(engine)
        self.engine = self.database.engine
        self.url = self.engine.url.render_as_string(hide_password=True)
        self._release = self.database.hold()
        try:
            self.database.migrate(table_prefix)
            spill = SpillDir(spill_dir, QueryCost) if spill_dir is not None else None
            self.writer = LedgerWriter(
                self._insert, spill, max_queue=max_queue, stall_s=stall_s, retry_for_s=retry_for_s
            )
        except BaseException:
            self._release()  # a ledger that never opened holds nothing
            raise

    # --- health (see LedgerWriter) -----------------------------------------------------
    @property
    def healthy(self) -> bool:
        """False while the database fails, or an insert has hung for more than ``stall_s``."""
        return self.writer.healthy

    @property
    def last_error(self) -> str | None:
        return self.writer.last_error

    @property
    def queue_depth(self) -> int:
        return self.writer.queue_depth

    @property
    def spilled_rows(self) -> int:
        """Rows waiting in this process's spill file for the database."""
        return self.writer.spilled_rows

    @property
    def spilled_total(self) -> int:
        return self.writer.spilled_total

    @property
    def dropped(self) -> int:
        """Rows lost: bad rows, database failures with no spill folder, a full queue."""
        return self.writer.dropped

    # --- writing ---------------------------------------------------------------------
    def record(self, row: QueryCost) -> None:
        """Queue one row; returns at once (a local file append when the database is down)."""
        if not isinstance(row, QueryCost):
            raise TypeError(f"record() takes a QueryCost, got {type(row).__name__}")
        if self.on_record is not None:
            self.on_record(row)
        self.writer.record(row)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every row queued so far is written (or spilled); False on timeout."""
        return self.writer.flush(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, stop the writer and release the connections."""
        self.writer.close(timeout_s)
        self._release()  # the last store of a shared engine disposes it

    def _insert(self, rows: list[QueryCost]) -> None:
        values = [_row_values(r) for r in rows]
        # RETURNING makes SQLAlchemy send the batch as one multi-row INSERT ("insertmanyvalues")
        # instead of executemany. sqlite3's executemany steps once per row and lets go of the
        # GIL each time; with the event loop busy, getting it back costs up to a switch
        # interval (5 ms) per row: 432 rows took 1.18 s for 0.05 s of CPU, the writer looked
        # hung, and every answer went to the spill file (measured under bench/http_load.py).
        with self.engine.begin() as conn:
            conn.execute(self.queries.insert().returning(self.queries.c.id), values).all()

    def record_build(
        self,
        version: str,
        embed_tokens: int,
        chunks_embedded: int,
        chunks_reused: int,
        seconds: float,
        model: str,
        *,
        cost_usd: float = 0.0,
    ) -> None:
        """Write one index build row (synchronously: builds are rare)."""
        with self.engine.begin() as conn:
            conn.execute(
                self.builds.insert(),
                {
                    "ts": datetime.now(UTC),
                    "version": version,
                    "model": model,
                    "embed_tokens": embed_tokens,
                    "chunks_embedded": chunks_embedded,
                    "chunks_reused": chunks_reused,
                    "seconds": seconds,
                    "cost_usd": cost_usd,
                },
            )

    # --- reading ---------------------------------------------------------------------
    def summary(
        self,
        since: datetime | None = None,
        by: Literal["day", "model", "key"] | None = None,
    ) -> dict[str, Any]:
        """Totals since ``since`` (all time by default), overall and per day/model/key."""
        if by not in (None, "day", "model", "key"):
            raise ValueError(f"by must be 'day', 'model', 'key' or None, got {by!r}")
        since = as_utc(since) if since is not None else None
        b = self.builds
        build_stmt = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(b.c.embed_tokens), 0),
            sa.func.coalesce(sa.func.sum(b.c.cost_usd), 0.0),
        )  # fmt: skip
        if since is not None:
            build_stmt = build_stmt.where(b.c.ts >= since)
        with self.engine.connect() as conn:
            result = summarize(conn, self.queries, since, by)
            builds, build_tokens, build_cost = conn.execute(build_stmt).one()
        result["since"] = since.isoformat() if since is not None else None
        result["builds"] = {
            "count": int(builds),
            "embed_tokens": int(build_tokens),
            "cost_usd": round(float(build_cost), 6),
        }
        return result


_QUERY_FIELDS = tuple(f.name for f in fields(QueryCost))


def _row_values(row: QueryCost) -> dict[str, Any]:
    # Every field is a scalar: a shallow read (asdict deep-copies, per row of every request).
    values = {name: getattr(row, name) for name in _QUERY_FIELDS}
    values["ts"] = as_utc(row.ts)
    return values
