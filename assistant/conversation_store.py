"""`ConversationStore`: the turns of each conversation, owned by the key that started it.

Conversation ids are issued by the server. A stored conversation is keyed by its
owner (API key id, or learner) *and* its id, so an id presented by another owner, or
one never issued, finds nothing: the request starts a new conversation with a new id
and never sees, condenses with, or appends to someone else's turns.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.cache import exact_key
from assistant.protocols import Cache

MAX_TURNS = 10  # messages kept per conversation (user and assistant turns)
_ROLES = ("user", "assistant")


@dataclass(slots=True)
class Conversation:
    """One request's view of its conversation."""

    id: str
    owner: str
    history: list[dict[str, str]] = field(default_factory=list)  # earlier turns, oldest first
    continued: bool = False  # True when a stored conversation of this owner was found


class ConversationStore:
    """Conversation turns in the answer cache's store, under (owner, id)."""

    def __init__(self, cache: Cache, ttl_s: int, *, max_turns: int = MAX_TURNS) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.max_turns = max_turns

    @staticmethod
    def _key(owner: str, conversation_id: str) -> str:
        return "conv:" + exact_key("conversation", owner, conversation_id)

    def open(
        self,
        owner: str,
        conversation_id: str | None = None,
        history: Sequence[dict[str, str]] = (),
    ) -> Conversation:
        """The owner's conversation ``conversation_id``, or a new one when it is not theirs.

        Turns sent with the request (``history``, as chat UIs send them) win over stored
        ones; they are the caller's own.
        """
        stored = self.cache.get(self._key(owner, conversation_id)) if conversation_id else None
        if stored is None or stored.get("owner") != owner:
            conv = Conversation(id=uuid.uuid4().hex, owner=owner)
        else:
            assert conversation_id is not None
            conv = Conversation(id=conversation_id, owner=owner, continued=True)
            conv.history = list(stored.get("messages", []))[-self.max_turns :]
        if history:
            conv.history = [m for m in history if m.get("role") in _ROLES][-self.max_turns :]
        return conv

    def append(self, conv: Conversation, question: str, answer: str) -> None:
        """Store the conversation with this question and its answer as the newest turns."""
        messages = [
            *conv.history,
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        value = {"owner": conv.owner, "messages": messages[-self.max_turns :]}
        self.cache.set(self._key(conv.owner, conv.id), value, self.ttl_s)
