"""Stored conversations in the ledger's database: the tables and every query on them.

``conversations`` holds one row per conversation (its owner, a title made from the first
question, when it started and was last continued); ``conversation_turns`` one row per
message (``seq`` 0, 1, 2... in the order they were written; read back in the order they
were asked), the answers with their
citations and request ids. Every read names the owner: another owner's conversation is
indistinguishable from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assistant.dates import as_utc

TITLE_CHARS = 80  # a conversation's title: its first question, cut to this many characters

metadata = sa.MetaData()
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # server-issued, 32 hex characters
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("turn_count", sa.Integer, nullable=False),  # messages stored (user + assistant)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The caller's list, newest first: one index scan per page.
    sa.Index("ix_conversations_owner_updated", "owner", "updated_at", "id"),
)
turns = sa.Table(
    "conversation_turns",
    metadata,
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # user | assistant
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("citations", sa.JSON, nullable=False),  # the answer's citations ([] for questions)
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(slots=True)
class Exchange:
    """One question and its answer, as the background writer stores them (and spills them)."""

    ts: datetime  # UTC, when the question was asked
    request_id: str
    conversation_id: str
    owner: str
    question: str
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    answered_at: str = ""  # ISO time of the answer ("" = ts); a string so the spill keeps it


def title_of(question: str) -> str:
    """The first question on one line, cut to ``TITLE_CHARS`` with an ellipsis."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def insert_exchanges(engine: sa.Engine, rows: list[Exchange]) -> None:
    """Append each exchange to its conversation (created by its first one), in one transaction."""
    with engine.begin() as conn:
        for row in rows:
            asked = as_utc(row.ts)
            answered = as_utc(datetime.fromisoformat(row.answered_at)) if row.answered_at else asked
            c = conversations.c
            # Update first: it takes the row lock, so two writers of one conversation
            # (two replicas) get distinct seq numbers.
            updated = conn.execute(
                conversations.update()
                .where(c.id == row.conversation_id, c.owner == row.owner)
                .values(turn_count=c.turn_count + 2, updated_at=answered)
            )
            if updated.rowcount == 0:
                if _exists(conn, row.conversation_id):
                    continue  # the id belongs to another owner (or was deleted): never mixed
                conn.execute(
                    conversations.insert().values(
                        id=row.conversation_id, owner=row.owner, title=title_of(row.question),
                        turn_count=2, created_at=asked, updated_at=answered,
                    )
                )  # fmt: skip
            count = conn.execute(
                sa.select(c.turn_count).where(c.id == row.conversation_id)
            ).scalar_one()
            base = {"conversation_id": row.conversation_id, "request_id": row.request_id}
            conn.execute(
                turns.insert(),
                [
                    {**base, "seq": count - 2, "role": "user", "content": row.question,
                     "citations": [], "created_at": asked},
                    {**base, "seq": count - 1, "role": "assistant", "content": row.answer,
                     "citations": row.citations, "created_at": answered},
                ],
            )  # fmt: skip


def _exists(conn: sa.Connection, conversation_id: str) -> bool:
    found = conn.execute(
        sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
    ).first()
    return found is not None


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "turn_count": row.turn_count,
        "created_at": as_utc(row.created_at).isoformat(),
        "updated_at": as_utc(row.updated_at).isoformat(),
    }


def list_conversations(
    engine: sa.Engine, owner: str, limit: int, after: tuple[datetime, str] | None
) -> list[dict[str, Any]]:
    """The owner's conversations, last continued first, after the (updated_at, id) key."""
    c = conversations.c
    stmt = sa.select(conversations).where(c.owner == owner)
    if after is not None:
        ts, cid = after
        stmt = stmt.where(sa.or_(c.updated_at < ts, sa.and_(c.updated_at == ts, c.id < cid)))
    stmt = stmt.order_by(c.updated_at.desc(), c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_summary(r) for r in conn.execute(stmt)]


def read_conversation(
    engine: sa.Engine, owner: str, conversation_id: str, last: int | None = None
) -> dict[str, Any] | None:
    """The conversation with its turns (only the ``last`` ones when given), or None."""
    c = conversations.c
    with engine.connect() as conn:
        head = conn.execute(
            sa.select(conversations).where(c.id == conversation_id, c.owner == owner)
        ).first()
        if head is None:
            return None
        stmt = sa.select(turns).where(turns.c.conversation_id == conversation_id)
        if last is not None:
            stmt = stmt.order_by(turns.c.created_at.desc(), turns.c.seq.desc()).limit(last)
        # Asked-and-answered order: two replicas may write one conversation out of turn.
        rows = sorted(conn.execute(stmt), key=lambda r: (as_utc(r.created_at), r.seq))
    result = _summary(head)
    result["turns"] = [
        {
            "seq": r.seq,
            "role": r.role,
            "content": r.content,
            "citations": r.citations or [],
            "request_id": r.request_id,
            "created_at": as_utc(r.created_at).isoformat(),
        }
        for r in rows
    ]
    return result


def delete_conversation(engine: sa.Engine, owner: str, conversation_id: str) -> bool:
    """Delete the owner's conversation and its turns; False when there is none."""
    c = conversations.c
    with engine.begin() as conn:
        gone = conn.execute(conversations.delete().where(c.id == conversation_id, c.owner == owner))
        if gone.rowcount:
            # Explicitly too: SQLite enforces ON DELETE CASCADE only with foreign_keys on.
            conn.execute(turns.delete().where(turns.c.conversation_id == conversation_id))
        return bool(gone.rowcount)
