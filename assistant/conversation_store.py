"""`ConversationStore`: the turns of each conversation, owned by the key that started it.

Conversation ids are issued by the server. A stored conversation is keyed by its
owner (API key id, or learner) *and* its id, so an id presented by another owner, or
one never issued, finds nothing: the request starts a new conversation with a new id
and never sees, condenses with, or appends to someone else's turns.

The cache holds the recent turns (the hot path of condensing follow-ups). Conversations
opened with ``keep=True`` (callers who can come back for them) also go to the durable
log (``SqlConversationLog``, through its background writer): a conversation the cache
lost (Redis flushed, restarted or down) is found there, so it still continues.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from assistant.cache import Write, exact_key
from assistant.conversation_db import Exchange
from assistant.errors import StorageUnavailableError
from assistant.ids import new_id
from assistant.protocols import Cache

logger = logging.getLogger(__name__)

MAX_TURNS = 10  # messages kept per conversation (user and assistant turns)
_ROLES = ("user", "assistant")


@dataclass(slots=True)
class Conversation:
    """One request's view of its conversation."""

    id: str
    owner: str
    history: list[dict[str, str]] = field(default_factory=list)  # earlier turns, oldest first
    continued: bool = False  # True when a stored conversation of this owner was found
    kept: bool = False  # also written to the durable log
    asked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class DurableLog(Protocol):
    """Where kept conversations are stored for good (``SqlConversationLog``)."""

    def record(self, exchange: Exchange) -> None: ...

    def recent(
        self, owner: str, conversation_id: str, last: int
    ) -> list[dict[str, str]] | None: ...


class ConversationStore:
    """Conversation turns in the answer cache's store, under (owner, id)."""

    def __init__(
        self,
        cache: Cache,
        ttl_s: int,
        *,
        max_turns: int = MAX_TURNS,
        log: DurableLog | None = None,
    ) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.max_turns = max_turns
        self.log = log

    @staticmethod
    def _key(owner: str, conversation_id: str) -> str:
        return "conv:" + exact_key("conversation", owner, conversation_id)

    def open(
        self,
        owner: str,
        conversation_id: str | None = None,
        history: Sequence[dict[str, str]] = (),
        *,
        keep: bool = False,
    ) -> Conversation:
        """The owner's conversation ``conversation_id``, or a new one when it is not theirs.

        Turns sent with the request (``history``, as chat UIs send them) win over stored
        ones; they are the caller's own. ``keep``: the conversation is (or becomes) one of
        the durable log's, and is looked up there when the cache does not have it.
        """
        keep = keep and self.log is not None
        stored = self.cache.get(self._key(owner, conversation_id)) if conversation_id else None
        if (stored is None or stored.get("owner") != owner) and keep and conversation_id:
            assert self.log is not None
            try:
                found = self.log.recent(owner, conversation_id, self.max_turns)
            except StorageUnavailableError as exc:  # both stores down: answer all the same
                logger.warning("conversation %s not continued: %s", conversation_id, exc)
                found = None
            stored = {"owner": owner, "messages": found} if found is not None else None
        if stored is None or stored.get("owner") != owner:
            conv = Conversation(id=new_id(), owner=owner, kept=keep)
        else:
            assert conversation_id is not None
            conv = Conversation(id=conversation_id, owner=owner, continued=True, kept=keep)
            conv.history = list(stored.get("messages", []))[-self.max_turns :]
        if history:
            conv.history = [m for m in history if m.get("role") in _ROLES][-self.max_turns :]
        return conv

    def append(
        self,
        conv: Conversation,
        question: str,
        answer: str,
        *,
        citations: Sequence[dict[str, Any]] = (),
        request_id: str = "",
    ) -> None:
        """Store the conversation with this question and its answer as the newest turns."""
        self.cache.set(
            *self.turn(conv, question, answer, citations=citations, request_id=request_id)
        )

    def turn(
        self,
        conv: Conversation,
        question: str,
        answer: str,
        *,
        citations: Sequence[dict[str, Any]] = (),
        request_id: str = "",
    ) -> Write:
        """The cache write that stores this exchange (queued to the durable log at once)."""
        if conv.kept and self.log is not None:
            self.log.record(
                Exchange(
                    ts=conv.asked_at, request_id=request_id, conversation_id=conv.id,
                    owner=conv.owner, question=question, answer=answer,
                    citations=list(citations), answered_at=datetime.now(UTC).isoformat(),
                )
            )  # fmt: skip
        messages = [
            *conv.history,
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        value = {"owner": conv.owner, "messages": messages[-self.max_turns :]}
        return self._key(conv.owner, conv.id), value, self.ttl_s

    def forget(self, owner: str, conversation_id: str) -> None:
        """Drop the cached turns (the conversation was deleted): it can no longer continue."""
        self.cache.delete(self._key(owner, conversation_id))
