"""The cost ledger: one row per answered query and per index build (SQLAlchemy 2.x).

SQLite by default (WAL, busy timeout), PostgreSQL by URL. ``record`` only puts the
row on a queue; a background thread inserts in batches, so the request path never
waits for the database. ``flush`` waits for the queue to drain; ``close`` flushes
and stops the writer, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from assistant.errors import ConfigError
from assistant.ledger_db import create_ledger_engine, ledger_tables
from assistant.ledger_summary import summarize

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows per INSERT; SQLite handles bigger, PostgreSQL's round trip is what costs
WRITE_ATTEMPTS = 3  # a batch that fails this often is dropped with an error log


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

    def __init__(self, url: str, *, table_prefix: str = "") -> None:
        self.engine = create_ledger_engine(url)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self.metadata, self.queries, self.builds = ledger_tables(table_prefix)
        try:
            self.metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise ConfigError(f"cannot open the cost ledger at {self.url!r}: {exc}") from exc
        self._queue: queue.Queue[QueryCost | None] = queue.Queue()
        self._done = threading.Condition()
        self._enqueued = 0  # rows put on the queue
        self._finished = 0  # rows written or given up on
        self.dropped = 0  # rows lost to repeated database errors
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="cost-ledger", daemon=True)
        self._writer.start()

    # --- writing ---------------------------------------------------------------------
    def record(self, row: QueryCost) -> None:
        """Queue one row; returns at once."""
        if not isinstance(row, QueryCost):
            raise TypeError(f"record() takes a QueryCost, got {type(row).__name__}")
        if self._closed:
            logger.warning(
                "cost ledger is closed; writing request %s synchronously", row.request_id
            )
            self._insert([row])
            return
        with self._done:
            self._enqueued += 1
        self._queue.put(row)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every row queued so far is written; False on timeout."""
        with self._done:
            target = self._enqueued
            return self._done.wait_for(lambda: self._finished >= target, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, stop the writer and release the connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=timeout_s)
        if self._writer.is_alive():
            logger.error("cost ledger writer did not stop within %.0fs", timeout_s)
        else:
            # A record() racing with close() may have queued behind the stop marker.
            late = [r for r in _drain(self._queue) if r is not None]
            if late:
                self._write_batch(late)
        self.engine.dispose()

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            batch: list[QueryCost] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                if stop or len(batch) >= BATCH_SIZE:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write_batch(batch)

    def _write_batch(self, batch: list[QueryCost]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._insert(batch)
                break
            except Exception as exc:  # the writer thread must survive anything
                if attempt < WRITE_ATTEMPTS:
                    time.sleep(0.2 * attempt)
                    continue
                logger.error("cost ledger batch of %d rows failed: %s", len(batch), exc)
                # One bad row must not take its whole batch down: try them one by one.
                for row in batch:
                    try:
                        self._insert([row])
                    except Exception as row_exc:
                        self.dropped += 1
                        logger.error("cost ledger lost request %s: %s", row.request_id, row_exc)
        with self._done:
            self._finished += len(batch)
            self._done.notify_all()

    def _insert(self, rows: list[QueryCost]) -> None:
        values = [_row_values(r) for r in rows]
        with self.engine.begin() as conn:
            conn.execute(self.queries.insert(), values)

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
        since = _as_utc(since) if since is not None else None
        q = self.queries
        columns = [
            q.c.ts, q.c.model, q.c.key_id, q.c.prompt_tokens, q.c.completion_tokens,
            q.c.embed_tokens, q.c.cost_usd, q.c.saved_usd, q.c.cache, q.c.total_ms, q.c.degraded,
        ]  # fmt: skip
        query_stmt = sa.select(*columns).order_by(q.c.ts)
        b = self.builds
        build_stmt = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(b.c.embed_tokens), 0),
            sa.func.coalesce(sa.func.sum(b.c.cost_usd), 0.0),
        )  # fmt: skip
        if since is not None:
            query_stmt = query_stmt.where(q.c.ts >= since)
            build_stmt = build_stmt.where(b.c.ts >= since)
        with self.engine.connect() as conn:
            rows = [r._asdict() for r in conn.execute(query_stmt)]
            builds, build_tokens, build_cost = conn.execute(build_stmt).one()
        for r in rows:
            r["ts"] = _as_utc(r["ts"])
        result = summarize(rows, by)
        result["since"] = since.isoformat() if since is not None else None
        result["builds"] = {
            "count": int(builds),
            "embed_tokens": int(build_tokens),
            "cost_usd": round(float(build_cost), 6),
        }
        return result


def _drain(q: queue.Queue[QueryCost | None]) -> list[QueryCost | None]:
    items: list[QueryCost | None] = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def _as_utc(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _row_values(row: QueryCost) -> dict[str, Any]:
    values = asdict(row)
    values["ts"] = _as_utc(row.ts)
    return values
