"""`StudyAssistant`: one answer as a pipeline of named stages.

    validate → open conversation → condense → answer cache ─hit─→ reuse ────────────┐
                                                           └miss→ retrieve → relevant │
                                                                  → write → compose ──┤
                                          remember turn ← record cost ← Done(answer) ←┘

Each stage lives in its own module (searcher, answer_cache, conversation_store,
answer_writer, compose); this class wires them and reads no settings itself. The
API, the CLI and the tests all use it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from collections.abc import Generator as Gen
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from assistant.answer_cache import AnswerCache, CacheHit, CacheScope
from assistant.answer_writer import Sampling, Written, passage_budget, write_answer
from assistant.compose import NOT_COVERED, RequestInfo, Timings, compose_answer
from assistant.conversation_log import SqlConversationLog
from assistant.conversation_store import Conversation, ConversationStore
from assistant.feedback import AnswerRecall
from assistant.generation.rewrite import rewrite_follow_up
from assistant.ids import new_id
from assistant.prompts import PROMPT_VERSION, build_messages, fit_passages
from assistant.protocols import (
    Cache,
    Closeable,
    CostLedger,
    Embedder,
    GenerationRequest,
    Generator,
    Grounder,
    Pricing,
    SemanticLookup,
    TokenWindow,
)
from assistant.readiness import dependency_states
from assistant.retrieval import HybridRetriever
from assistant.roadmap import Roadmap, material_by_phase
from assistant.searcher import KEEP_RATIO, IndexSearcher, Query, relevant_hits
from assistant.snapshot import IndexSnapshot
from assistant.support import SupportCheck
from assistant.turn_keeper import Prepared, Turn, TurnKeeper, settled
from assistant.types import Answer, AskEvent, Chunk, Delta, Done, Generation, SearchHit

logger = logging.getLogger(__name__)

__all__ = ["NOT_COVERED", "AskOptions", "StudyAssistant"]


@dataclass(slots=True)
class AskOptions:
    """How to answer one question, and on whose behalf."""

    k: int = 5
    sources: list[str] | None = None
    phases: list[int] | None = None
    history: list[dict[str, str]] = field(default_factory=list)  # turns sent by the client
    conversation_id: str | None = None  # continue one of this key's conversations
    request_id: str | None = None
    key_id: str = "anonymous"  # who asks: owns the conversation, pays in the ledger
    # Who owns the conversation when the caller can come back for it (a private key, an
    # issued learner id): it is then kept in the durable log too. None: key_id, cache only.
    owner: str | None = None
    endpoint: str = "ask"  # ask | chat | cli | eval: where the question came in
    max_tokens: int | None = None  # the client's completion limit, within the server's
    temperature: float | None = None  # the client's sampling temperature (0 to 2)
    instructions: str | None = None  # a chat client's system messages (prompts.system_prompt)


class StudyAssistant:
    """Answers questions from the published index; hot-swaps to new index versions."""

    def __init__(
        self,
        *,
        index_dir: Path,
        embedder: Embedder,
        retriever: HybridRetriever,
        generator: Generator,
        fallback: Generator,
        cache: Cache,
        semantic: SemanticLookup | None,
        ledger: CostLedger,
        pricing: Pricing,
        roadmap: Roadmap,
        window: TokenWindow | None = None,
        grounding: Grounder | None = None,
        support: SupportCheck | None = None,
        top_k: int = 5,
        min_score: float = 0.2,
        keep_ratio: float = KEEP_RATIO,
        context_tokens: int = 1500,
        max_tokens: int = 512,
        temperature: float = 0.2,
        cache_ttl_s: int = 86_400,
        hot_answer_ttl_s: float = 60.0,
        max_question_chars: int = 2000,
        history: SqlConversationLog | None = None,
    ) -> None:
        self.searcher = IndexSearcher(
            embedder,
            retriever,
            index_dir=index_dir,
            top_k=top_k,
            max_query_chars=max_question_chars,
        )
        self.answers = AnswerCache(cache, semantic, cache_ttl_s, hot_ttl_s=hot_answer_ttl_s)
        self.grounding = grounding  # adds the passages an answer needs (section lead, roadmap)
        self.support = support  # a sentence of the passages must speak to the question
        self.conversations = ConversationStore(cache, cache_ttl_s, log=history)
        self.history = history  # every kept conversation, for listing and export
        self.answered = AnswerRecall(cache, cache_ttl_s)  # what a rating of an answer stores
        self.keeper = TurnKeeper(self.conversations, self.answered, ledger)
        self.generator = generator
        self.fallback = fallback
        self.window = window  # the generator's own tokenizer and context size, if it has one
        self.cache = cache
        self.semantic = semantic
        self.ledger = ledger
        self.pricing = pricing
        self.roadmap = roadmap
        self.top_k = top_k
        # Relevance cut (see _retrieve): min_score for the best hit, keep_ratio * min_score
        # for the others. keep_ratio was the magic number 0.75.
        self.min_score = min_score
        self.keep_ratio = keep_ratio
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature

    # ---------------------------------------------------------------- index and parts
    @property
    def index_dir(self) -> Path:
        return self.searcher.index_dir

    @property
    def embedder(self) -> Embedder:
        return self.searcher.embedder

    @property
    def retriever(self) -> HybridRetriever:
        return self.searcher.retriever

    @property
    def snapshot(self) -> IndexSnapshot:
        return self.searcher.snapshot

    @property
    def loaded(self) -> IndexSnapshot | None:
        """The served snapshot, or None before an index has been published."""
        return self.searcher.loaded

    @property
    def ready(self) -> bool:
        return self.searcher.loaded is not None

    def reload(self, force: bool = False) -> bool:
        """Load the published version if it differs from the served one; True if swapped."""
        return self.searcher.reload(force)

    @property
    def load_problems(self) -> list[str]:
        """Why the published index is not the one served (empty when it is)."""
        return list(self.searcher.load_problems)

    def close(self) -> None:
        self.ledger.close()
        if self.history is not None:
            self.history.close()
        self.cache.close()
        if self.semantic is not None:
            self.semantic.close()
        if isinstance(self.generator, Closeable):  # remote backends hold a connection pool
            self.generator.close()

    def validate(self, text: str, what: str, k: int) -> str:
        return self.searcher.validate(text, what, k)

    @property
    def search(self) -> Callable[..., tuple[list[SearchHit], str]]:
        """Validated search of the served version (the searcher's): (hits, index version)."""
        return self.searcher.search

    # ---------------------------------------------------------------- operations
    def dependencies(self, *, redis: bool) -> dict[str, str]:
        """State of each collaborator for /ready: "ok", "in-process", or "down (why)"."""
        return dependency_states(self.cache, self.ledger, self.history, self.generator, redis=redis)

    def costs(
        self, since: datetime | None = None, by: Literal["day", "model", "key"] | None = None
    ) -> dict[str, Any]:
        """Ledger totals including every answer given so far (pending rows are written first)."""
        self.ledger.flush()
        return self.ledger.summary(since=since, by=by)

    def roadmap_material(self) -> dict[str, Any]:
        """The roadmap's phases, each with the indexed sources tagged with it."""
        snap = self.loaded
        material = material_by_phase(snap.chunks if snap else [])
        phases = [
            {**phase.to_json(), "material": material.get(n, [])}
            for n, phase in sorted(self.roadmap.phases.items())
        ]
        return {"phases": phases, "index_version": snap.version if snap else None}

    # ---------------------------------------------------------------- answering
    def ask(self, question: str, opts: AskOptions | None = None) -> Answer:
        for event in self.ask_events(question, opts):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("ask_events ended without a Done event")

    def ask_events(self, question: str, opts: AskOptions | None = None) -> Iterator[AskEvent]:
        """Meta, then Delta*, then Done(answer): the stages of one answer, in order."""
        opts = opts or AskOptions(k=self.top_k)
        p = self.prepare(question, opts)
        query, scope, snap, info = p.query, p.scope, p.snap, p.info
        hit = self.answers.lookup(query, scope, snap.chunk_ids)
        if hit is None:  # the same question may be being answered right now
            hit = self.answers.wait_for_answer(query, scope, snap.chunk_ids)
        # Read after the first cache call, so the request that meets a dead Redis says so
        # (a hit from this process's hot copies made none: see settled() below).
        degraded = not self.answers.healthy
        timings = Timings()
        if hit is not None:
            answer = yield from self._reuse(hit, info)
            saved, embed_tokens = hit.answer.usage.cost_usd, 0
        else:
            with self.answers.answering(query, scope):
                passages, scores = self._retrieve(snap, query, opts, timings)
                yield info.meta("miss", self.generator.backend, self.generator.model)
                history = p.turn.conversation.history
                written = yield from self._write(
                    p.turn.standalone, passages, history, timings, p.sampling
                )
                answer = compose_answer(
                    written, passages, scores, info,
                    roadmap=self.roadmap, pricing=self.pricing, degraded=degraded,
                )  # fmt: skip
                if passages and not answer.degraded:
                    # Degraded answers are not cached: the real backend should answer next time.
                    self.answers.store(query, scope, answer)
            saved, embed_tokens = 0.0, self.embedder.count_tokens(p.turn.standalone)
        timings.embed_ms = query.embed_ms
        self.cache.set_many(self.keeper.writes(p.turn, answer))
        answer = settled(answer, stored=self.answers.healthy)
        self.keeper.record(p.turn, answer, timings, saved, embed_tokens)
        yield Done(answer)

    def prepare(self, question: str, opts: AskOptions) -> Prepared:
        """What every way of answering needs first: the validated question, the served
        version, the conversation, the standalone question, sampling and cache scope."""
        started = time.perf_counter()
        question = self.searcher.validate(question, "question", opts.k)
        snap = self.searcher.snapshot  # this request's version, even if a reload swaps it
        conv = self.conversations.open(
            opts.owner or opts.key_id, opts.conversation_id, opts.history, keep=bool(opts.owner)
        )
        standalone = rewrite_follow_up(question, conv.history, self.generator)
        server = Sampling(self.max_tokens, self.temperature)
        sampling = Sampling.of(opts.max_tokens, opts.temperature, opts.instructions, server=server)
        scope = self._scope(opts, conv, condensed=standalone != question)
        if sampling != server:  # the client's own limit, temperature or instructions
            scope = replace(scope, generation_digest=CacheScope.generation(sampling))
        info = RequestInfo(opts.request_id or new_id(), conv.id, snap.version, started)
        turn = Turn(conv, question, standalone, opts.key_id, opts.endpoint)
        return Prepared(snap, self.searcher.query(standalone), sampling, scope, info, turn)

    # ---------------------------------------------------------------- stages
    def _scope(self, opts: AskOptions, conv: Conversation, *, condensed: bool) -> CacheScope:
        """What the answer depends on besides the question; history only when it was used."""
        # History shapes the answer when it changed the retrieval query, or when the
        # generator reads it (every generator but the extractive fallback does).
        used_history = condensed or (bool(conv.history) and self.generator is not self.fallback)
        return CacheScope(
            backend=self.generator.backend,
            model=self.generator.model,
            prompt_version=PROMPT_VERSION,
            k=opts.k,
            sources=list(opts.sources or []),
            phases=list(opts.phases or []),
            history_digest=CacheScope.digest(conv.history) if used_history else "",
        )

    def _reuse(self, hit: CacheHit, info: RequestInfo) -> Gen[AskEvent, None, Answer]:
        """The cached answer in one delta, with this request's ids; nothing billed."""
        yield info.meta(hit.outcome, hit.answer.backend, hit.answer.model)
        yield Delta(hit.answer.answer)
        return info.reuse(hit.answer, hit.outcome)

    def _retrieve(
        self, snap: IndexSnapshot, query: Query, opts: AskOptions, timings: Timings
    ) -> tuple[list[Chunk], dict[str, float]]:
        """Passages worth answering from, fitted to the token budget, and their scores."""
        t = time.perf_counter()
        hits = self.searcher.retrieve(snap, query, opts.k, sources=opts.sources, phases=opts.phases)
        timings.retrieve_ms = (time.perf_counter() - t) * 1000
        relevant = relevant_hits(hits, self.min_score, self.keep_ratio)
        chunks = [h.chunk for h in relevant]
        if self.support is not None and not self.support.supported(query.vector, chunks):
            relevant = []  # close passages, but not one sentence about the question
        if self.grounding is not None:  # after the cut: out-of-scope questions stay refused
            relevant = self.grounding.ground(snap, query.text, relevant, opts.k)
        budget, count = passage_budget(
            self.context_tokens, self.max_tokens, self.window, self.embedder.count_tokens
        )
        passages = fit_passages([h.chunk for h in relevant], budget, count)
        return passages, {h.chunk.chunk_id: h.score for h in relevant}

    def _write(
        self,
        question: str,
        passages: list[Chunk],
        history: list[dict[str, str]],
        timings: Timings,
        s: Sampling,
    ) -> Gen[AskEvent, None, Written]:
        """The answer text, streamed as deltas; "not covered" when no passage is relevant."""
        t = time.perf_counter()
        try:
            if not passages:
                yield Delta(NOT_COVERED)
                gen = Generation(text=NOT_COVERED, model=self.generator.model)
                return Written(gen, self.generator.backend, self.generator.model)
            request = GenerationRequest(
                question=question,
                passages=passages,
                messages=build_messages(question, passages, history, s.instructions),
                max_tokens=s.max_tokens,
                temperature=s.temperature,
            )
            return (yield from write_answer(self.generator, self.fallback, request))
        finally:
            timings.generate_ms = (time.perf_counter() - t) * 1000
