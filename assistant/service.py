"""`StudyAssistant`: retrieval, generation, caching and cost recording behind one object.

The API, the CLI (`assistant ask`, `assistant search`) and the tests all use this class;
it takes every collaborator in its constructor and reads no settings itself.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.cache import exact_key, normalize_question
from assistant.conversation import condense_question
from assistant.errors import AssistantError, BadInputError, IndexNotBuiltError, UpstreamModelError
from assistant.index import current_version
from assistant.ledger import QueryCost
from assistant.prompts import PROMPT_VERSION, build_messages, fit_passages
from assistant.protocols import Cache, Embedder, GenerationRequest, Generator
from assistant.retrieval import HybridRetriever
from assistant.roadmap import Roadmap
from assistant.snapshot import IndexSnapshot, load_latest_valid
from assistant.types import Chunk, Generation, SearchHit

logger = logging.getLogger(__name__)

_CITE = re.compile(r"\[(\d{1,2})\]")
NOT_COVERED = (
    "The study material does not cover this question. Try rephrasing it, or ask about a "
    "topic of the roadmap."
)


@dataclass(slots=True)
class AskResult:
    """One answer, shaped like the `/v1/ask` response."""

    answer: str
    citations: list[dict[str, Any]]
    usage: dict[str, Any]
    cache: str  # hit | semantic | miss
    backend: str
    model: str
    index_version: str
    latency_ms: float
    degraded: bool
    request_id: str
    conversation_id: str | None = None
    roadmap: str | None = None
    passage_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "citations": self.citations,
            "usage": self.usage,
            "cache": self.cache,
            "backend": self.backend,
            "model": self.model,
            "index_version": self.index_version,
            "latency_ms": round(self.latency_ms, 2),
            "degraded": self.degraded,
            "request_id": self.request_id,
            "conversation_id": self.conversation_id,
            "roadmap": self.roadmap,
        }


@dataclass(slots=True)
class AskOptions:
    k: int = 5
    sources: list[str] | None = None
    phases: list[int] | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    conversation_id: str | None = None
    request_id: str | None = None
    key_id: str = "anonymous"
    endpoint: str = "ask"


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
        semantic: Any | None,
        ledger: Any,
        pricing: Any,
        roadmap: Roadmap,
        top_k: int = 5,
        min_score: float = 0.2,
        context_tokens: int = 1500,
        max_tokens: int = 512,
        temperature: float = 0.2,
        cache_ttl_s: int = 86_400,
        max_question_chars: int = 2000,
    ) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.retriever = retriever
        self.generator = generator
        self.fallback = fallback
        self.cache = cache
        self.semantic = semantic
        self.ledger = ledger
        self.pricing = pricing
        self.roadmap = roadmap
        self.top_k = top_k
        self.min_score = min_score
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.cache_ttl_s = cache_ttl_s
        self.max_question_chars = max_question_chars
        self._snapshot: IndexSnapshot | None = None
        self._reload_lock = threading.Lock()
        self.load_problems: list[str] = []  # why the published index is not the one served

    # ---------------------------------------------------------------- index lifecycle
    @property
    def snapshot(self) -> IndexSnapshot:
        snap = self._snapshot
        if snap is None:
            raise IndexNotBuiltError(
                f"no index is loaded from {self.index_dir}: run `assistant index build`"
            )
        return snap

    @property
    def loaded(self) -> IndexSnapshot | None:
        """The served snapshot, or None before an index has been published."""
        return self._snapshot

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def reload(self, force: bool = False) -> bool:
        """Load the published version if it differs from the served one; True if swapped.

        A version that fails to load is kept in ``load_problems`` (shown by /ready) and
        raised; with nothing served yet, the newest valid published version is served
        instead (logged loudly), and only when none loads does the error reach the caller.
        """
        with self._reload_lock:
            try:
                swapped = self._reload_locked(force)
            except AssistantError as exc:
                self.load_problems = [str(exc)]
                if self._snapshot is not None:
                    raise
                snap, problems = load_latest_valid(
                    self.index_dir, self.embedder.model_name, self.embedder.dimension
                )
                self.load_problems = problems or self.load_problems
                if snap is None:
                    raise
                self._snapshot = snap
                return True
            if swapped or self._snapshot is not None:
                self.load_problems = []
            return swapped

    def _reload_locked(self, force: bool) -> bool:
        version = current_version(self.index_dir)
        if version is None:
            return False
        if not force and self._snapshot is not None and self._snapshot.version == version:
            return False
        snap = IndexSnapshot.load(
            self.index_dir,
            version,
            model_name=self.embedder.model_name,
            dimension=self.embedder.dimension,
        )
        # One reference swap: in-flight requests finish on the snapshot they hold.
        self._snapshot = snap
        logger.info("serving index version %s", version)
        return True

    def close(self) -> None:
        for part in (self.ledger, self.cache, self.semantic, self.generator):
            close = getattr(part, "close", None)
            if close is not None:
                close()

    # ---------------------------------------------------------------- search
    def validate(self, text: str, what: str, k: int) -> str:
        text = (text or "").strip()
        if not text:
            raise BadInputError(f"{what} must not be empty")
        if len(text) > self.max_question_chars:
            raise BadInputError(
                f"{what} is {len(text)} characters, the limit is {self.max_question_chars}"
            )
        if not 1 <= k <= 50:
            raise BadInputError(f"k must be between 1 and 50, got {k}")
        return text

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        sources: list[str] | None = None,
        phases: list[int] | None = None,
        mode: str = "hybrid",
    ) -> tuple[list[SearchHit], str]:
        k = self.top_k if k is None else k  # k=0 is bad input, not "the default"
        query = self.validate(query, "query", k)
        snap = self.snapshot
        vec = self.embedder.embed_query(query)
        hits = self.retriever.search(snap, query, vec, k, sources=sources, phases=phases, mode=mode)  # type: ignore[arg-type]
        return hits, snap.version

    # ---------------------------------------------------------------- ask
    def _cache_key(self, standalone: str, opts: AskOptions) -> tuple[str, str]:
        namespace = "|".join(
            [
                self.generator.backend,
                self.generator.model,
                PROMPT_VERSION,
                str(opts.k),
                ",".join(sorted(opts.sources or [])),
                ",".join(str(p) for p in sorted(opts.phases or [])),
            ]
        )
        return exact_key("answer", namespace, normalize_question(standalone)), namespace

    def _valid(self, entry: dict[str, Any] | None, snap: IndexSnapshot) -> bool:
        # An answer is reusable only while every passage it was built from is still indexed.
        return bool(entry) and all(pid in snap.chunk_ids for pid in entry.get("passage_ids", []))  # type: ignore[union-attr]

    def _history(self, opts: AskOptions) -> list[dict[str, str]]:
        if opts.history:
            return [m for m in opts.history if m.get("role") in ("user", "assistant")][-10:]
        if opts.conversation_id:
            stored = self.cache.get(f"conv:{opts.conversation_id}")
            return list((stored or {}).get("messages", []))[-10:]
        return []

    def _remember(
        self,
        opts: AskOptions,
        conv_id: str,
        history: list[dict[str, str]],
        question: str,
        answer: str,
    ) -> None:
        messages = [
            *history,
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        self.cache.set(f"conv:{conv_id}", {"messages": messages[-10:]}, self.cache_ttl_s)

    def ask(self, question: str, opts: AskOptions | None = None) -> AskResult:
        result: AskResult | None = None
        for event, payload in self.ask_events(question, opts):
            if event == "done":
                result = payload
        assert result is not None
        return result

    def ask_events(
        self, question: str, opts: AskOptions | None = None
    ) -> Iterator[tuple[str, Any]]:
        """("meta", dict), then ("delta", str)*, then ("done", AskResult)."""
        opts = opts or AskOptions(k=self.top_k)
        t0 = time.perf_counter()
        question = self.validate(question, "question", opts.k)
        snap = self.snapshot
        request_id = opts.request_id or uuid.uuid4().hex
        history = self._history(opts)
        conv_id = opts.conversation_id or uuid.uuid4().hex
        standalone = condense_question(question, history)
        key, namespace = self._cache_key(standalone, opts)

        cached = self.cache.get(key)
        # Read after the first cache call, so the request that meets a dead Redis says so.
        degraded = not getattr(self.cache, "healthy", True)
        outcome = "hit" if self._valid(cached, snap) else "miss"
        embed_ms = retrieve_ms = generate_ms = 0.0
        qvec = None
        if outcome == "miss" and self.semantic is not None:
            t = time.perf_counter()
            qvec = self.embedder.embed_query(standalone)
            embed_ms = (time.perf_counter() - t) * 1000
            other = self.semantic.lookup(standalone, qvec, namespace)
            if other:
                cached = self.cache.get(other)
                outcome = "semantic" if self._valid(cached, snap) else "miss"

        if outcome != "miss":
            assert cached is not None
            meta = {
                "request_id": request_id,
                "index_version": snap.version,
                "cache": outcome,
                "backend": cached["backend"],
                "model": cached["model"],
                "conversation_id": conv_id,
            }
            yield "meta", meta
            yield "delta", cached["answer"]
            usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "exact": True}
            result = AskResult(
                answer=cached["answer"],
                citations=cached["citations"],
                usage=usage,
                cache=outcome,
                backend=cached["backend"],
                model=cached["model"],
                index_version=snap.version,
                latency_ms=(time.perf_counter() - t0) * 1000,
                degraded=degraded or cached.get("degraded", False),
                request_id=request_id,
                conversation_id=conv_id,
                roadmap=cached.get("roadmap"),
                passage_ids=cached.get("passage_ids", []),
            )
            self._remember(opts, conv_id, history, question, result.answer)
            self._record(
                result,
                opts,
                embed_ms,
                0.0,
                0.0,
                saved=float(cached.get("cost_usd", 0.0)),
                embed_tokens=0,
            )
            yield "done", result
            return

        t = time.perf_counter()
        if qvec is None:
            qvec = self.embedder.embed_query(standalone)
            embed_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        hits = self.retriever.search(
            snap, standalone, qvec, opts.k, sources=opts.sources, phases=opts.phases
        )
        retrieve_ms = (time.perf_counter() - t) * 1000
        best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        relevant = (
            [h for h in hits if (h.dense_score or 0.0) >= self.min_score * 0.75]
            if best >= self.min_score
            else []
        )
        passages = fit_passages([h.chunk for h in relevant], *self._passage_budget())
        scores = {h.chunk.chunk_id: h.score for h in relevant}

        generator = self.generator
        yield (
            "meta",
            {
                "request_id": request_id,
                "index_version": snap.version,
                "cache": "miss",
                "backend": generator.backend,
                "model": generator.model,
                "conversation_id": conv_id,
            },
        )
        t = time.perf_counter()
        gen: Generation | None = None
        if not passages:
            gen = Generation(text=NOT_COVERED, model=generator.model)
            yield "delta", NOT_COVERED
        else:
            request = GenerationRequest(
                question=standalone,
                passages=passages,
                messages=build_messages(standalone, passages, history),
                history=history,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
            gen, fell_back = yield from self._generate(request)
            if fell_back:
                degraded = True
                generator = self.fallback
        generate_ms = (time.perf_counter() - t) * 1000

        answer, cited = renumber_citations(gen.text, passages)
        placement = (
            self.roadmap.placement([p for c in passages[:2] for p in c.phases])
            if passages
            else None
        )
        citations = [
            {
                "id": n,
                "chunk_id": c.chunk_id,
                "source": c.source,
                "title": c.title,
                "section": c.section,
                "url": c.url,
                "snippet": c.text[:280],
                "score": round(scores.get(c.chunk_id, 0.0), 6),
                "phases": list(c.phases),
            }
            for n, c in cited
        ]
        cost = self.pricing.cost(
            gen.model or generator.model,
            gen.usage.prompt_tokens,
            gen.usage.completion_tokens,
            backend=generator.backend,
        )
        usage = {
            "prompt_tokens": gen.usage.prompt_tokens,
            "completion_tokens": gen.usage.completion_tokens,
            "cost_usd": cost,
            "exact": gen.usage.exact,
        }
        result = AskResult(
            answer=answer,
            citations=citations,
            usage=usage,
            cache="miss",
            backend=generator.backend,
            model=gen.model or generator.model,
            index_version=snap.version,
            latency_ms=(time.perf_counter() - t0) * 1000,
            degraded=degraded,
            request_id=request_id,
            conversation_id=conv_id,
            roadmap=placement,
            passage_ids=[c.chunk_id for c in passages],
        )
        if passages and not degraded:
            # Degraded answers are not cached: the real backend should answer next time.
            entry = {**result.to_json(), "passage_ids": result.passage_ids, "cost_usd": cost}
            self.cache.set(key, entry, self.cache_ttl_s)
            if self.semantic is not None:
                self.semantic.add(standalone, qvec, key, namespace)
        self._remember(opts, conv_id, history, question, answer)
        self._record(
            result,
            opts,
            embed_ms,
            retrieve_ms,
            generate_ms,
            saved=0.0,
            embed_tokens=self.embedder.count_tokens(standalone),
        )
        yield "done", result

    def _passage_budget(self) -> tuple[int, Callable[[str], int]]:
        """Token budget for passages, in the generator's own tokens when it has a tokenizer.

        A local model's context (max positions) bounds the prompt: leave room for the
        completion and for the system prompt, history and question (~384 tokens).
        """
        budget = self.context_tokens
        window = getattr(self.generator, "context_tokens", None)
        if window:
            budget = max(64, min(budget, window - self.max_tokens - 384))
        count = getattr(self.generator, "count_tokens", None) or self.embedder.count_tokens
        return budget, count

    def _generate(
        self, request: GenerationRequest
    ) -> Gen[tuple[str, Any], None, tuple[Generation, bool]]:
        """Stream from the backend; on upstream failure answer extractively (degraded)."""
        sent = False
        try:
            final: Generation | None = None
            for item in self.generator.stream(request):
                if isinstance(item, Generation):
                    final = item
                else:
                    sent = True
                    yield "delta", item
            if final is None:
                raise UpstreamModelError("the model stream ended without a final message")
            return final, False
        except UpstreamModelError as exc:
            if self.generator is self.fallback:
                raise
            logger.warning("model backend failed, answering extractively: %s", exc)
            gen = self.fallback.generate(request)
            # A client that already saw partial text gets a marker before the fallback text.
            yield (
                "delta",
                (
                    "\n\n[The model failed mid-answer; extractive answer follows.]\n\n"
                    if sent
                    else ""
                )
                + gen.text,
            )
            if sent:
                gen.text = "[The model failed mid-answer; extractive answer follows.] " + gen.text
            return gen, True

    def _record(
        self,
        r: AskResult,
        opts: AskOptions,
        embed_ms: float,
        retrieve_ms: float,
        generate_ms: float,
        *,
        saved: float,
        embed_tokens: int,
    ) -> None:
        self.ledger.record(
            QueryCost(
                ts=datetime.now(UTC),
                request_id=r.request_id,
                key_id=opts.key_id,
                backend=r.backend,
                model=r.model,
                endpoint=opts.endpoint,
                prompt_tokens=r.usage["prompt_tokens"],
                completion_tokens=r.usage["completion_tokens"],
                tokens_exact=bool(r.usage["exact"]),
                embed_tokens=embed_tokens,
                cost_usd=r.usage["cost_usd"],
                cache=r.cache,
                saved_usd=saved,
                embed_ms=embed_ms,
                retrieve_ms=retrieve_ms,
                generate_ms=generate_ms,
                total_ms=r.latency_ms,
                index_version=r.index_version,
                degraded=r.degraded,
            )
        )
