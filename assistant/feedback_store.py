"""`SqlFeedbackStore`: ratings in the ledger's database, one per (request id, caller).

A rating is accepted only for a request id the cost ledger recorded for the same caller
(key id), so nobody rates, or learns of, another caller's answers. The check, the upsert
and reading the stored row back are one statement (``INSERT ... SELECT ... WHERE EXISTS
... ON CONFLICT ... RETURNING``), one round trip. The ledger writes in the background: a
rating that arrives before its answer's row is written waits for the ledger to flush
once before it is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from assistant.dates import as_utc
from assistant.errors import NotFoundError
from assistant.feedback import AnsweredTurn, FeedbackRow, Rating, check_rating, feedback_tables
from assistant.ledger_db import ledger_tables
from assistant.passages import PassageIndex
from assistant.shared_engine import SharedEngine

RECENT_DOWN = 5  # down-voted answers listed by the summary


def context_of(turn: AnsweredTurn, passages: PassageIndex | None) -> list[dict[str, Any]] | None:
    """The passages [1..n] of an answer as Q&A-pair context; None unless every one is indexed."""
    if passages is None:
        return None
    found = [passages.get(cid) for cid in turn.passage_ids]
    if any(c is None for c in found):
        return None  # the index changed since: [n] markers would point at the wrong text
    return [
        {"text": c.text, "source": c.source, "title": c.title, "section": c.section}
        | ({"url": c.url} if c.url else {})
        for c in found
        if c is not None
    ]


class SqlFeedbackStore:
    """Feedback rows next to the cost ledger's ``query_costs`` (same database, same prefix)."""

    def __init__(self, engine: sa.Engine | SharedEngine, table_prefix: str = "") -> None:
        # Migrated by the caller; a plain engine is this store's own, disposed on close.
        self.database = SharedEngine.of(engine)
        self.engine = self.database.engine
        metadata, self.queries, _ = ledger_tables(table_prefix)
        self.table, _ = feedback_tables(metadata, self.queries, table_prefix)
        self._release = self.database.hold()

    def close(self) -> None:
        """Let go of the engine (the last store of a shared engine disposes it)."""
        self._release()

    def submit(
        self,
        key_id: str,
        request_id: Any,
        rating: Any,
        comment: Any = None,
        *,
        turn: AnsweredTurn | None = None,
        passages: PassageIndex | None = None,
        wait_for_ledger: Callable[[], object] | None = None,
    ) -> FeedbackRow:
        """Store (or replace) this caller's rating of ``request_id``; NotFoundError if unknown."""
        request_id, rating, comment = check_rating(request_id, rating, comment)
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "request_id": request_id,
            "key_id": key_id,
            "rating": rating,
            "comment": comment,
            "updated_at": now,
        }
        if turn is not None:
            values |= {
                "question": turn.question,
                "answer": turn.answer,
                "context": context_of(turn, passages),
                "index_version": turn.index_version,
            }
        updated = [k for k in values if k not in ("request_id", "key_id")]
        stmt = self._rate({**values, "created_at": now}, updated)
        # One statement, one transaction: the ledger check, the upsert and the stored row.
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None and wait_for_ledger is not None:
            wait_for_ledger()  # the answer's row may still be on the ledger's queue
            with self.engine.begin() as conn:
                row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(f"no answer with request id {request_id!r} for this caller")
        return _row(row)

    def _rate(self, values: dict[str, Any], updated: list[str]) -> sa.Executable:
        """Insert, or on the same (request id, key id) replace the ``updated`` columns, only
        when the ledger recorded that request for that caller; returns the stored row (none
        when it did not). A second rating replaces the first (its comment too); remembered
        text is kept."""
        q, t = self.queries, self.table
        answered = sa.exists().where(
            q.c.request_id == values["request_id"], q.c.key_id == values["key_id"]
        )
        # Typed parameters: PostgreSQL reads an untyped one in a SELECT list as text.
        row = sa.select(
            *(sa.bindparam(f"new_{k}", v, type_=t.c[k].type) for k, v in values.items())
        ).where(answered)
        keys = ["request_id", "key_id"]
        if self.engine.dialect.name == "postgresql":
            pg = postgresql.insert(t).from_select(list(values), row)
            return pg.on_conflict_do_update(
                index_elements=keys, set_={k: pg.excluded[k] for k in updated}
            ).returning(*t.c)
        lite = sqlite.insert(t).from_select(list(values), row)
        return lite.on_conflict_do_update(
            index_elements=keys, set_={k: lite.excluded[k] for k in updated}
        ).returning(*t.c)

    def get(self, key_id: str, request_id: str) -> FeedbackRow:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t).where(t.c.request_id == request_id, t.c.key_id == key_id)
            ).first()
        if row is None:
            raise NotFoundError(f"no feedback for request id {request_id!r}")
        return _row(row)

    def rated(self, rating: Rating | None = None, limit: int | None = None) -> list[FeedbackRow]:
        """Ratings, newest first (only ``rating`` when given)."""
        t = self.table
        stmt = sa.select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())
        if rating is not None:
            stmt = stmt.where(t.c.rating == rating)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(stmt)]

    def summary(self, recent: int = RECENT_DOWN) -> dict[str, Any]:
        """Counts up/down, the share of up, and the newest down-voted questions with comments."""
        t = self.table
        with self.engine.connect() as conn:
            grouped = conn.execute(sa.select(t.c.rating, sa.func.count()).group_by(t.c.rating))
            counts = {str(rating): int(n) for rating, n in grouped}
        up, down = int(counts.get("up", 0)), int(counts.get("down", 0))
        total = up + down
        return {
            "ratings": total,
            "up": up,
            "down": down,
            "up_rate": round(up / total, 4) if total else None,
            "recent_down": [
                {
                    "request_id": r.request_id,
                    "question": r.question,
                    "comment": r.comment,
                    "updated_at": r.updated_at.isoformat(),
                }
                for r in self.rated("down", limit=recent)
            ],
        }


def _row(r: sa.Row[Any]) -> FeedbackRow:
    m = r._mapping
    return FeedbackRow(
        request_id=m["request_id"],
        key_id=m["key_id"],
        rating=m["rating"],
        comment=m["comment"],
        question=m["question"],
        answer=m["answer"],
        context=m["context"],
        index_version=m["index_version"],
        created_at=as_utc(m["created_at"]),
        updated_at=as_utc(m["updated_at"]),
    )
