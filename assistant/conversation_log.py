"""`SqlConversationLog`: every conversation, durably, in the ledger's database.

The answer path only queues an ``Exchange`` (a question and its answer): the ledger's
background writer (``assistant.ledger_writer``) inserts it, and spills it to a local
file while the database is down, exactly as cost rows are written. So storing history
adds no database round trip to an answer, and a Redis outage loses no turn: Redis keeps
the recent turns for condensing follow-ups (``ConversationStore``), this log keeps all
of them for listing, resuming and exporting.

Reads first wait (briefly) for this process's queued exchanges, so a caller sees the
answer it was just given.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.conversation_db import (
    Exchange,
    as_utc,
    delete_conversation,
    insert_exchanges,
    list_conversations,
    read_conversation,
)
from assistant.errors import BadInputError, StorageUnavailableError
from assistant.ledger_spill import SpillDir
from assistant.ledger_writer import LedgerWriter
from assistant.shared_engine import SharedEngine

MAX_PAGE = 100  # conversations per page of the list


class SqlConversationLog:
    """Conversations in SQLite or PostgreSQL, written by a background thread."""

    def __init__(
        self,
        engine: sa.Engine | SharedEngine,
        *,
        spill_dir: Path | None = None,
        max_queue: int = 1000,
        stall_s: float = 1.0,
        retry_for_s: float = 30.0,
        read_wait_s: float = 2.0,
    ) -> None:
        # Migrated by the caller (``upgrade_schema``, or the factory's ``SharedEngine``);
        # a plain engine is this log's own, a shared one is let go of on close.
        self.database = SharedEngine.of(engine)
        self.engine = self.database.engine
        self.read_wait_s = read_wait_s
        self._release = self.database.hold()
        try:
            # A folder of its own: the spill replays every file in its folder as its row type.
            spill = SpillDir(spill_dir, Exchange) if spill_dir is not None else None
            self.writer = LedgerWriter(
                lambda rows: insert_exchanges(self.engine, rows),
                spill,
                max_queue=max_queue,
                stall_s=stall_s,
                retry_for_s=retry_for_s,
            )
        except BaseException:
            self._release()
            raise

    @property
    def healthy(self) -> bool:
        """False while the database fails, or an insert has hung for more than ``stall_s``."""
        return self.writer.healthy

    @property
    def last_error(self) -> str | None:
        return self.writer.last_error

    def record(self, exchange: Exchange) -> None:
        """Queue one question and its answer; returns at once."""
        self.writer.record(exchange)

    def flush(self, timeout_s: float = 5.0) -> bool:
        return self.writer.flush(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        self.writer.close(timeout_s)
        self._release()  # the last store of a shared engine disposes it

    # --- reading ---------------------------------------------------------------------
    def recent(self, owner: str, conversation_id: str, last: int) -> list[dict[str, str]] | None:
        """The last ``last`` messages as chat turns, or None when it is not the owner's."""
        found = self.read(owner, conversation_id, last=last)
        if found is None:
            return None
        return [{"role": t["role"], "content": t["content"]} for t in found["turns"]]

    def read(
        self, owner: str, conversation_id: str, *, last: int | None = None
    ) -> dict[str, Any] | None:
        """The owner's conversation with its turns, or None (unknown, or someone else's)."""
        self.writer.flush(self.read_wait_s)
        with _translated("read the conversation"):
            return read_conversation(self.engine, owner, conversation_id, last)

    def page(self, owner: str, limit: int, cursor: str | None) -> dict[str, Any]:
        """{"conversations": [...], "next_cursor": str | None}, last continued first."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadInputError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        after = decode_cursor(cursor) if cursor else None
        self.writer.flush(self.read_wait_s)
        with _translated("list the conversations"):
            # One more than asked: tells whether there is a next page.
            rows = list_conversations(self.engine, owner, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        next_cursor = encode_cursor(last["updated_at"], last["id"]) if last else None
        return {"conversations": rows, "next_cursor": next_cursor}

    def delete(self, owner: str, conversation_id: str) -> bool:
        """Delete the owner's conversation; False when there is none to delete."""
        self.writer.flush(self.read_wait_s)  # a turn still queued must not bring it back
        with _translated("delete the conversation"):
            return delete_conversation(self.engine, owner, conversation_id)


def encode_cursor(updated_at: str, conversation_id: str) -> str:
    raw = json.dumps([updated_at, conversation_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (updated_at, id) a cursor stands for; BadInputError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, cid = json.loads(raw)
        return as_utc(datetime.fromisoformat(ts)), str(cid)
    except (binascii.Error, ValueError, TypeError) as exc:
        shown = cursor if len(cursor) <= 40 else cursor[:40] + "…"
        raise BadInputError(
            f"cursor must be a next_cursor this server returned, got {shown!r}"
        ) from exc


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Database failures on a read become ``StorageUnavailableError`` (HTTP 503)."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageUnavailableError(f"could not {what}: {first}") from exc
