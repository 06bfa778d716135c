"""A repeated first question answered without I/O, so the API can serve it on the event loop.

``StudyAssistant.ask_events`` runs in a worker thread: it may wait on Redis, the
database, the embedder and the model. The commonest cached request needs none of
them: a question that opens a conversation (no conversation id, no history), whose
exact answer this process holds decoded (``AnswerCache.peek``). ``answer_at_once``
gives that answer with everything ``ask_events`` would have done for a hit (the same
scope, ids, ledger row and cache writes), and ``None`` for anything else; the caller
then takes the ordinary path. The cache writes come back for the caller to commit
with ``Cache.submit``, which does not block the loop. Measured by
``bench/http_load.py``: a thread round trip per request is what made a cached answer
cost several times ``/health``.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.cache import Write
from assistant.compose import Timings
from assistant.service import AskOptions, StudyAssistant
from assistant.turn_keeper import Turn, TurnKeeper, settled
from assistant.types import Answer, Meta


@dataclass(frozen=True, slots=True)
class HotAnswer:
    """A cached answer served to this request, and the cache writes still to commit."""

    answer: Answer
    writes: list[Write]
    meta: Meta  # the first event of a streamed answer, as ask_events would give it
    turn: Turn
    keeper: TurnKeeper
    saved_usd: float  # what the answer cost when it was generated

    def settle(self, stored: bool) -> Answer:
        """The answer as served, its cost row queued; ``stored``: the writes were kept."""
        answer = settled(self.answer, stored)
        self.keeper.record(self.turn, answer, Timings(), self.saved_usd, 0)
        return answer


def answer_at_once(assistant: StudyAssistant, question: str, opts: AskOptions) -> HotAnswer | None:
    """The decoded cached answer of a conversation's first question; None when I/O is needed.

    Raises what ``ask_events`` raises for bad input (BadInputError) or a missing
    index (IndexNotBuiltError), before anything is recorded. Nothing is recorded
    either until ``HotAnswer.settle``.
    """
    if opts.conversation_id or opts.history or not assistant.answers.healthy:
        # A continued conversation is read from the store first; a cache known to be
        # down is left to the ordinary path, which says so (degraded) at once.
        return None
    p = assistant.prepare(question, opts)
    cached = assistant.answers.peek(p.query.text, p.scope, p.snap.chunk_ids)
    if cached is None:
        return None
    answer = p.info.reuse(cached, "hit")
    writes = assistant.keeper.writes(p.turn, answer)
    meta = p.info.meta("hit", cached.backend, cached.model)
    return HotAnswer(answer, writes, meta, p.turn, assistant.keeper, cached.usage.cost_usd)
