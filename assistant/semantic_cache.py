"""Semantic answer cache: reuse the answer of an earlier, near-identical question.

``SemanticCache`` keeps every replica's entries in a local float32 matrix per
namespace, so a lookup is one matrix product. With a ``RedisSemanticStore``
(``assistant.redis_cache``) the
replicas share entries through a Redis Stream: ``add`` appends to it (trimmed to
about ``max_entries``) and each ``lookup`` first reads, without blocking, whatever
other replicas appended since this one last looked. When Redis is down the local
mirror keeps answering and nothing raises.

A hit needs cosine similarity >= ``threshold`` *and* the consent of
``assistant.semantic_guard`` (numbers, negations and antonyms must agree).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.errors import ConfigError
from assistant.lru import LRU
from assistant.semantic_guard import refusal_reason

logger = logging.getLogger(__name__)

# Candidates above the threshold checked by the guard before giving up.
MAX_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class SemanticEntry:
    """One cached question: its unit vector and the exact-cache key of its answer."""

    key: str
    namespace: str
    question: str
    vector: np.ndarray  # (dim,) float32, unit length


class SemanticStore(Protocol):
    """Shares entries between replicas; ``pull`` returns other replicas' new entries."""

    @property
    def healthy(self) -> bool: ...

    def publish(self, entry: SemanticEntry) -> None: ...

    def pull(self) -> list[SemanticEntry]: ...

    def close(self) -> None: ...


def _unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"vector must be finite and non-zero, got norm {norm!r}")
    return v / norm


class _Shelf:
    """The entries of one namespace: a growable (n, dim) matrix and parallel lists."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors = np.empty((16, dim), dtype=np.float32)
        self.keys: list[str] = []
        self.questions: list[str] = []
        self.row_of: dict[str, int] = {}

    def put(self, key: str, question: str, vector: np.ndarray) -> None:
        row = self.row_of.get(key)
        if row is None:
            row = len(self.keys)
            if row == len(self.vectors):
                grown = np.empty((2 * row, self.dim), dtype=np.float32)
                grown[:row] = self.vectors
                self.vectors = grown
            self.keys.append(key)
            self.questions.append(question)
            self.row_of[key] = row
        else:
            self.questions[row] = question
        self.vectors[row] = vector

    def remove(self, key: str) -> None:
        row = self.row_of.pop(key)
        last = len(self.keys) - 1
        if row != last:  # move the last row into the hole
            self.vectors[row] = self.vectors[last]
            self.keys[row] = self.keys[last]
            self.questions[row] = self.questions[last]
            self.row_of[self.keys[row]] = row
        self.keys.pop()
        self.questions.pop()

    def search(self, vector: np.ndarray, threshold: float) -> list[tuple[float, str, str]]:
        n = len(self.keys)
        sims = self.vectors[:n] @ vector  # (n,)
        rows = np.flatnonzero(sims >= threshold)
        rows = rows[np.argsort(-sims[rows])][:MAX_CANDIDATES]
        return [(float(sims[r]), self.keys[r], self.questions[r]) for r in rows]


class SemanticCache:
    """Nearest-question lookup over a local mirror, optionally shared through a store."""

    def __init__(
        self,
        store: SemanticStore | None = None,
        *,
        threshold: float = 0.92,
        max_entries: int = 5000,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"semantic threshold must be in (0, 1], got {threshold!r}")
        self.store = store
        self.threshold = threshold
        self.max_entries = max_entries
        self._shelves: dict[str, _Shelf] = {}
        self._order: LRU[tuple[str, str], bool] = LRU(max_entries)  # (namespace, key)
        self._lock = threading.Lock()

    @classmethod
    def in_memory(cls, *, threshold: float = 0.92, max_entries: int = 5000) -> SemanticCache:
        return cls(None, threshold=threshold, max_entries=max_entries)

    @classmethod
    def redis(
        cls,
        url: str,
        *,
        threshold: float = 0.92,
        max_entries: int = 5000,
        timeout_s: float = 0.25,
        prefix: str = "sa:",
        cooldown_s: float = 1.0,
    ) -> SemanticCache:
        from assistant.redis_cache import RedisSemanticStore  # redis-py only when configured

        store = RedisSemanticStore(
            url, timeout_s=timeout_s, prefix=prefix, max_entries=max_entries, cooldown_s=cooldown_s
        )
        return cls(store, threshold=threshold, max_entries=max_entries)

    @property
    def healthy(self) -> bool:
        return self.store is None or self.store.healthy

    def __len__(self) -> int:
        return len(self._order)

    def add(self, question: str, vector: np.ndarray, key: str, namespace: str) -> None:
        """Remember that ``key`` answers ``question`` within ``namespace``."""
        entry = SemanticEntry(key, namespace, question, _unit(vector))
        self._ingest(entry, strict=True)
        if self.store is not None:
            self.store.publish(entry)

    def lookup(self, question: str, vector: np.ndarray, namespace: str) -> str | None:
        """The key of a cached answer to a question meaning the same, or None."""
        v = _unit(vector)
        if self.store is not None:
            for entry in self.store.pull():
                self._ingest(entry, strict=False)
        with self._lock:
            shelf = self._shelves.get(namespace)
            if shelf is None:
                return None
            if shelf.dim != v.shape[0]:
                raise ValueError(
                    f"vector has dimension {v.shape[0]}, namespace {namespace!r} holds {shelf.dim}"
                )
            candidates = shelf.search(v, self.threshold)
        for similarity, key, cached_question in candidates:
            reason = refusal_reason(question, cached_question)
            if reason is None:
                return key
            logger.debug("semantic hit %.3f refused (%s)", similarity, reason)
        return None

    def _ingest(self, entry: SemanticEntry, *, strict: bool) -> None:
        dim = entry.vector.shape[0]
        with self._lock:
            shelf = self._shelves.setdefault(entry.namespace, _Shelf(dim))
            if shelf.dim != dim:
                if strict:
                    raise ValueError(
                        f"vector has dimension {dim}, namespace {entry.namespace!r} holds {shelf.dim}"
                    )
                return  # another replica with another model; its namespace should differ
            shelf.put(entry.key, entry.question, entry.vector)
            for (namespace, key), _ in self._order.put((entry.namespace, entry.key), True):
                self._shelves[namespace].remove(key)

    def ping(self) -> bool:
        return self.healthy

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
