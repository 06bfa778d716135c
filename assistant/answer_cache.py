"""`AnswerCache`: exact and semantic reuse of earlier answers, valid while their passages are.

An answer is stored under a key made of the normalised standalone question and its
``CacheScope`` (backend, model, prompt version, k, filters and, when the answer
depended on conversation history, that history). The scope is serialised
canonically as JSON, so ``["a,b"]`` and ``["a", "b"]`` never share a key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from assistant.answer_writer import Sampling
from assistant.cache import exact_key, normalize_question
from assistant.lru import LRU
from assistant.protocols import Cache, SemanticLookup
from assistant.searcher import Query
from assistant.types import Answer, CacheOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CacheScope:
    """Everything besides the question that an answer depends on."""

    backend: str
    model: str
    prompt_version: str
    k: int
    sources: list[str] = field(default_factory=list)
    phases: list[int] = field(default_factory=list)
    # sha256 of the conversation turns the answer used; "" when it used none.
    history_digest: str = ""
    # sha256 of a client's own completion limit, temperature and instructions; "" when the
    # request used the server's (keys of such requests are those of before these existed).
    generation_digest: str = ""

    @staticmethod
    def digest(history: list[dict[str, str]]) -> str:
        text = json.dumps([[m["role"], m["content"]] for m in history], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @staticmethod
    def generation(sampling: Sampling) -> str:
        s = sampling
        text = json.dumps([s.max_tokens, s.temperature, s.instructions or ""], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def namespace(self) -> str:
        """Canonical JSON: filters sorted, each value its own JSON string (no joining).

        Compact, non-ASCII kept as it is (what ``json.dumps(..., ensure_ascii=False,
        separators=(",", ":"))`` wrote before: the keys of stored answers are unchanged).
        """
        parts = [
            self.backend,
            self.model,
            self.prompt_version,
            self.k,
            sorted(self.sources),
            sorted(self.phases),
            self.history_digest,
        ]
        if self.generation_digest:
            parts.append(self.generation_digest)
        return orjson.dumps(parts).decode()


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A stored answer that may be served again, and how it was found."""

    answer: Answer  # as stored: its usage is what the original generation cost
    outcome: CacheOutcome  # hit | semantic


HOT_ENTRIES = 1024  # answers kept decoded in this process (a few KB each)


class AnswerCache:
    """Exact cache first, then the semantic cache; stale answers count as misses.

    The most recently used answers are also kept decoded in this process for
    ``hot_ttl_s`` (at most the cache lifetime): a repeated question then costs no
    round trip and no JSON decoding, and ``peek`` can answer it on the event loop.
    Stored answers are never changed, only written again or expired, so a hot copy is
    the stored answer; it may outlive the stored one by at most ``hot_ttl_s``.
    """

    def __init__(
        self,
        cache: Cache,
        semantic: SemanticLookup | None,
        ttl_s: int,
        *,
        hot_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self.semantic = semantic
        self.ttl_s = ttl_s
        self.hot_ttl_s = min(hot_ttl_s, ttl_s)
        self._clock = clock
        # key -> (expires_at on self._clock, answer); None when hot_ttl_s is 0
        self._hot: LRU[str, tuple[float, Answer]] | None = (
            LRU(HOT_ENTRIES) if self.hot_ttl_s > 0 else None
        )
        # key -> set when the request answering it in this process is done (see answering)
        self._inflight: dict[str, threading.Event] = {}
        self._inflight_lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        """False while the backing store fails (answers still come, uncached: degraded)."""
        return self.cache.healthy

    @staticmethod
    def key(question: str, scope: CacheScope) -> str:
        return exact_key("answer", scope.namespace(), normalize_question(question))

    def lookup(self, query: Query, scope: CacheScope, indexed: Container[str]) -> CacheHit | None:
        """The answer to ``query`` (or to one meaning the same) whose passages are all ``indexed``."""
        answer = self._valid(self.key(query.text, scope), indexed)
        if answer is not None:
            return CacheHit(answer, "hit")
        if self.semantic is None:
            return None
        other = self.semantic.lookup(query.text, query.vector, scope.namespace())
        answer = self._valid(other, indexed) if other else None
        return CacheHit(answer, "semantic") if answer is not None else None

    def peek(self, question: str, scope: CacheScope, indexed: Container[str]) -> Answer | None:
        """The exact answer when this process holds it decoded: no I/O, no embedding."""
        answer = self._hot_answer(self.key(question, scope))
        return answer if answer is not None and _still_indexed(answer, indexed) else None

    @contextmanager
    def answering(self, query: Query, scope: CacheScope) -> Iterator[None]:
        """Mark the question as being answered here, so the same question asked meanwhile
        waits for this answer (``wait_for_answer``) instead of working it out again."""
        key = self.key(query.text, scope)
        with self._inflight_lock:  # None: another request here answers it already
            event = None if key in self._inflight else threading.Event()
            if event is not None:
                self._inflight[key] = event
        try:
            yield
        finally:
            if event is not None:
                with self._inflight_lock:
                    del self._inflight[key]
                event.set()

    def wait_for_answer(
        self, query: Query, scope: CacheScope, indexed: Container[str], timeout_s: float = 30.0
    ) -> CacheHit | None:
        """The answer of the same question being answered in this process, once it is
        stored; None when none is under way, or it was not stored (degraded, failed) in time.

        A popular question arriving many times at once (a class, a fresh index, a restarted
        worker) then costs one retrieval and generation per process, not one per request.
        """
        key = self.key(query.text, scope)
        with self._inflight_lock:
            event = self._inflight.get(key)
        if event is None or not event.wait(timeout_s):
            return None
        answer = self._valid(key, indexed)
        return CacheHit(answer, "hit") if answer is not None else None

    def store(self, query: Query, scope: CacheScope, answer: Answer) -> None:
        key = self.key(query.text, scope)
        stored = answer.to_cache_json()
        self.cache.set(key, stored, self.ttl_s)
        self._keep_hot(key, Answer.from_json(stored))  # exactly what a lookup would decode
        if self.semantic is not None:
            self.semantic.add(query.text, query.vector, key, scope.namespace())

    def _valid(self, key: str, indexed: Container[str]) -> Answer | None:
        answer = self._hot_answer(key)
        if answer is None:
            entry = self.cache.get(key)
            if not entry:
                return None
            try:
                answer = Answer.from_json(entry)
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning(
                    "answer cache: entry %s is not an answer (%s); ignored", key[:12], exc
                )
                return None
            self._keep_hot(key, answer)
        return answer if _still_indexed(answer, indexed) else None

    def _hot_answer(self, key: str) -> Answer | None:
        item = self._hot.get(key) if self._hot is not None else None
        if item is None:
            return None
        if self._clock() >= item[0]:
            assert self._hot is not None
            self._hot.pop(key)
            return None
        return item[1]

    def _keep_hot(self, key: str, answer: Answer) -> None:
        if self._hot is not None:
            self._hot.put(key, (self._clock() + self.hot_ttl_s, answer))


def _still_indexed(answer: Answer, indexed: Container[str]) -> bool:
    """Reusable only while every passage it was built from is still indexed."""
    return all(pid in indexed for pid in answer.passage_ids)
