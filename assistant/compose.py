"""`compose_answer`: generated text becomes an `Answer` (citations, roadmap placement, cost)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from assistant.answer_writer import Written
from assistant.ledger import QueryCost
from assistant.protocols import Pricing
from assistant.roadmap import Roadmap
from assistant.types import (
    NOT_COVERED_SENTENCE,
    Answer,
    CacheOutcome,
    Chunk,
    Citation,
    Meta,
    Usage,
)

_CITE = re.compile(r"\[(\d{1,2})\]")
# The answer when no passage is relevant enough.
NOT_COVERED = f"{NOT_COVERED_SENTENCE} Try rephrasing it, or ask about a topic of the roadmap."
PLACEMENT_PASSAGES = 2  # the roadmap placement looks at the phases of the top passages


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What identifies one answer request, fixed before any answer exists."""

    request_id: str
    conversation_id: str
    index_version: str
    started: float  # time.perf_counter() when the request began

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def reuse(self, cached: Answer, outcome: CacheOutcome) -> Answer:
        """The cached answer served to this request: its ids and timing, nothing billed."""
        return cached.reused(
            outcome,
            request_id=self.request_id,
            conversation_id=self.conversation_id,
            index_version=self.index_version,
            latency_ms=self.elapsed_ms(),
        )

    def meta(self, cache: CacheOutcome, backend: str, model: str) -> Meta:
        return Meta(
            request_id=self.request_id,
            index_version=self.index_version,
            cache=cache,
            backend=backend,
            model=model,
            conversation_id=self.conversation_id,
        )


@dataclass(slots=True)
class Timings:
    """Milliseconds per stage of one answer, for its ledger row."""

    embed_ms: float = 0.0
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0


def renumber_citations(text: str, passages: list[Chunk]) -> tuple[str, list[tuple[int, Chunk]]]:
    """Keep only [n] markers that name a real passage; return the cited (n, chunk) pairs."""
    cited: dict[int, Chunk] = {}

    def keep(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if 1 <= n <= len(passages):
            cited[n] = passages[n - 1]
            return m.group(0)
        return ""

    clean = _CITE.sub(keep, text)
    return clean, sorted(cited.items())


def compose_answer(
    written: Written,
    passages: list[Chunk],
    scores: dict[str, float],
    request: RequestInfo,
    *,
    roadmap: Roadmap,
    pricing: Pricing,
    degraded: bool,
) -> Answer:
    """The answer to send and cache: real citations only, where it sits in the roadmap, its cost."""
    gen = written.generation
    text, cited = renumber_citations(gen.text, passages)
    top_phases = [p for c in passages[:PLACEMENT_PASSAGES] for p in c.phases]
    cost = pricing.cost(
        written.model,
        gen.usage.prompt_tokens,
        gen.usage.completion_tokens,
        backend=written.backend,
    )
    return Answer(
        answer=text,
        citations=[Citation.of(n, c, scores.get(c.chunk_id, 0.0)) for n, c in cited],
        usage=Usage(gen.usage.prompt_tokens, gen.usage.completion_tokens, gen.usage.exact, cost),
        cache="miss",
        backend=written.backend,
        model=written.model,
        index_version=request.index_version,
        latency_ms=request.elapsed_ms(),
        degraded=degraded or written.fell_back,
        request_id=request.request_id,
        conversation_id=request.conversation_id,
        roadmap=roadmap.placement(top_phases) if passages else None,
        passage_ids=[c.chunk_id for c in passages],
        finish_reason=gen.finish_reason,
    )


def cost_row(
    answer: Answer,
    key_id: str,
    endpoint: str,
    timings: Timings,
    saved_usd: float,
    embed_tokens: int,
) -> QueryCost:
    """The ledger row of one answer (``saved_usd``: what a cache hit did not spend again)."""
    return QueryCost(
        ts=datetime.now(UTC),
        request_id=answer.request_id,
        key_id=key_id,
        backend=answer.backend,
        model=answer.model,
        endpoint=endpoint,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        tokens_exact=answer.usage.exact,
        embed_tokens=embed_tokens,
        cost_usd=answer.usage.cost_usd,
        cache=answer.cache,
        saved_usd=saved_usd,
        embed_ms=timings.embed_ms,
        retrieve_ms=timings.retrieve_ms,
        generate_ms=timings.generate_ms,
        total_ms=answer.latency_ms,
        index_version=answer.index_version,
        degraded=answer.degraded,
    )
