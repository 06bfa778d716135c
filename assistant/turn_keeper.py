"""`TurnKeeper`: what an answered turn leaves behind, wherever the answer came from.

Three things: the conversation's newest turns (so a follow-up continues it), the
answered turn under its request id (so a rating can store the text), and the cost
row. The first two are cache writes returned to the caller, which commits them in one
round trip: ``Cache.set_many`` from a worker thread, ``Cache.submit`` from the event
loop. The cost row follows, once it is known whether the writes were stored (an
answer whose turn was lost is ``degraded``: a follow-up would start a new conversation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from assistant.answer_cache import CacheScope
from assistant.answer_writer import Sampling
from assistant.cache import Write
from assistant.compose import RequestInfo, Timings, cost_row
from assistant.conversation_store import Conversation, ConversationStore
from assistant.feedback import AnswerRecall
from assistant.protocols import CostLedger
from assistant.searcher import Query
from assistant.snapshot import IndexSnapshot
from assistant.types import Answer


@dataclass(frozen=True, slots=True)
class Turn:
    """One question of a conversation, and who asked it where."""

    conversation: Conversation
    question: str  # as asked
    standalone: str  # what was retrieved and answered for (the follow-up condensed)
    key_id: str  # who pays in the ledger, and owns the answered turn
    endpoint: str  # ask | chat | cli | eval


@dataclass(frozen=True, slots=True)
class Prepared:
    """One question made ready to be looked up or answered (``StudyAssistant.prepare``)."""

    snap: IndexSnapshot  # the index version this request keeps, even if a reload swaps it
    query: Query  # the standalone question; its vector is computed on first use
    sampling: Sampling
    scope: CacheScope
    info: RequestInfo
    turn: Turn


class TurnKeeper:
    """Keeps each answered turn in the conversation store, the answer recall and the ledger."""

    def __init__(
        self, conversations: ConversationStore, answered: AnswerRecall, ledger: CostLedger
    ) -> None:
        self.conversations = conversations
        self.answered = answered
        self.ledger = ledger

    def writes(self, turn: Turn, answer: Answer) -> list[Write]:
        """The cache writes that keep the turn (the caller commits them in one round trip)."""
        citations = [c.to_json() for c in answer.citations]
        return [
            self.conversations.turn(
                turn.conversation,
                turn.question,
                answer.answer,
                citations=citations,
                request_id=answer.request_id,
            ),
            self.answered.write(turn.key_id, turn.standalone, answer),
        ]

    def record(
        self, turn: Turn, answer: Answer, timings: Timings, saved_usd: float, embed_tokens: int
    ) -> None:
        """Queue the ledger row: ``saved_usd`` is what a cache hit did not spend again,
        ``embed_tokens`` the tokens embedded for the query (0 when no vector was needed)."""
        row = cost_row(answer, turn.key_id, turn.endpoint, timings, saved_usd, embed_tokens)
        self.ledger.record(row)


def settled(answer: Answer, stored: bool) -> Answer:
    """The answer as served: degraded when its turn could not be stored (cache down)."""
    return answer if stored or answer.degraded else replace(answer, degraded=True)
