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
from collections.abc import Container
from dataclasses import dataclass, field

from assistant.answer_writer import Sampling
from assistant.cache import exact_key, normalize_question
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
        """Canonical JSON: filters sorted, each value its own JSON string (no joining)."""
        return json.dumps(
            [
                self.backend,
                self.model,
                self.prompt_version,
                self.k,
                sorted(self.sources),
                sorted(self.phases),
                self.history_digest,
            ]
            + ([self.generation_digest] if self.generation_digest else []),
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A stored answer that may be served again, and how it was found."""

    answer: Answer  # as stored: its usage is what the original generation cost
    outcome: CacheOutcome  # hit | semantic


class AnswerCache:
    """Exact cache first, then the semantic cache; stale answers count as misses."""

    def __init__(self, cache: Cache, semantic: SemanticLookup | None, ttl_s: int) -> None:
        self.cache = cache
        self.semantic = semantic
        self.ttl_s = ttl_s

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

    def store(self, query: Query, scope: CacheScope, answer: Answer) -> None:
        key = self.key(query.text, scope)
        self.cache.set(key, answer.to_cache_json(), self.ttl_s)
        if self.semantic is not None:
            self.semantic.add(query.text, query.vector, key, scope.namespace())

    def _valid(self, key: str, indexed: Container[str]) -> Answer | None:
        entry = self.cache.get(key)
        if not entry:
            return None
        try:
            answer = Answer.from_json(entry)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("answer cache: entry %s is not an answer (%s); ignored", key[:12], exc)
            return None
        # Reusable only while every passage it was built from is still indexed.
        if not all(pid in indexed for pid in answer.passage_ids):
            return None
        return answer
