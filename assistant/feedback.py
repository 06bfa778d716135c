"""Learners' ratings of answers: the table, what a rating may say, and the answered turn.

A rating names the answer by its request id (every answer carries one; the cost ledger
records it with the caller's key id). The ledger keeps no question or answer text, so
the service remembers each answered turn (``AnswerRecall``: the question it answered,
the answer text and the passages it was written from) in the answer cache for the cache
lifetime; a rating made within it is stored with that text, which makes up-voted
answers usable as fine-tuning pairs (``assistant finetune export-feedback``). A rating
made later, or of an answer the cache lost, is stored without the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from assistant.cache import Write, exact_key
from assistant.errors import BadInputError
from assistant.protocols import Cache
from assistant.types import Answer

Rating = Literal["up", "down"]
RATINGS: tuple[Rating, ...] = ("up", "down")
MAX_COMMENT_CHARS = 1000  # code points of a comment
MAX_REQUEST_ID_CHARS = 64  # as the request-id middleware cuts them


def feedback_tables(
    metadata: sa.MetaData, queries: sa.Table, prefix: str = ""
) -> tuple[sa.Table, sa.Index]:
    """(the feedback table, the index that finds a request's ledger row) on ``metadata``.

    One definition, used by the store and by migration 0004. ``queries`` is the ledger's
    ``query_costs`` table of the same prefix (``assistant.ledger_db.ledger_tables``).
    """
    table = sa.Table(
        f"{prefix}feedback",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("request_id", sa.String(MAX_REQUEST_ID_CHARS), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),  # the caller, as the ledger has it
        sa.Column("rating", sa.String(4), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        # The answered turn, when the service still remembered it (see AnswerRecall).
        sa.Column("question", sa.Text, nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("context", sa.JSON, nullable=True),  # passages [1..n] the answer cites from
        sa.Column("index_version", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.UniqueConstraint("request_id", "key_id", name=f"uq_{prefix}feedback_request_key"),
        sa.CheckConstraint("rating in ('up', 'down')", name=f"ck_{prefix}feedback_rating"),
    )
    lookup = sa.Index(f"ix_{prefix}query_costs_request_key", queries.c.request_id, queries.c.key_id)
    return table, lookup


def check_rating(request_id: Any, rating: Any, comment: Any) -> tuple[str, Rating, str | None]:
    """The cleaned (request_id, rating, comment); BadInputError naming the bad value."""
    if not isinstance(request_id, str) or not request_id.strip():
        raise BadInputError("request_id must be the request id of an answer, got an empty value")
    request_id = request_id.strip()
    if len(request_id) > MAX_REQUEST_ID_CHARS:
        raise BadInputError(
            f"request_id is {len(request_id)} characters, the limit is {MAX_REQUEST_ID_CHARS}"
        )
    if rating not in RATINGS:
        raise BadInputError(f"rating must be 'up' or 'down', got {rating!r}")
    if comment is not None:
        if not isinstance(comment, str):
            raise BadInputError(f"comment must be text, got {type(comment).__name__}")
        comment = comment.strip() or None
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise BadInputError(
                f"comment is {len(comment)} characters, the limit is {MAX_COMMENT_CHARS}"
            )
    return request_id, rating, comment


@dataclass(frozen=True, slots=True)
class AnsweredTurn:
    """What the service remembers of one answer for its rating."""

    question: str  # the standalone question the answer was written for
    answer: str
    passage_ids: list[str]  # passages [1..n] in the order the answer cites them by
    index_version: str


class AnswerRecall:
    """Answered turns in the answer cache's store, under (caller, request id), for ``ttl_s``."""

    def __init__(self, cache: Cache, ttl_s: int) -> None:
        self.cache = cache
        self.ttl_s = ttl_s

    @staticmethod
    def _key(owner: str, request_id: str) -> str:
        return "answered:" + exact_key("answered", owner, request_id)

    def write(self, owner: str, question: str, answer: Answer) -> Write:
        """The cache write that remembers this answered turn."""
        value = {
            "owner": owner,
            "question": question,
            "answer": answer.answer,
            "passage_ids": list(answer.passage_ids),
            "index_version": answer.index_version,
        }
        return self._key(owner, answer.request_id), value, self.ttl_s

    def recall(self, owner: str, request_id: str) -> AnsweredTurn | None:
        """The caller's answered turn, or None when forgotten (expired, evicted, cache down)."""
        stored = self.cache.get(self._key(owner, request_id))
        if stored is None or stored.get("owner") != owner:
            return None
        try:
            return AnsweredTurn(
                question=str(stored["question"]),
                answer=str(stored["answer"]),
                passage_ids=[str(p) for p in stored["passage_ids"]],
                index_version=str(stored["index_version"]),
            )
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One stored rating (``question``/``answer``/``context`` None when not remembered)."""

    request_id: str
    key_id: str
    rating: Rating
    comment: str | None
    question: str | None
    answer: str | None
    context: list[dict[str, Any]] | None
    index_version: str | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "rating": self.rating,
            "comment": self.comment,
            "question": self.question,
            "answer": self.answer,
            "index_version": self.index_version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
