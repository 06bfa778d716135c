"""Semantic answer cache: reuse the answer of an earlier, near-identical question.

``SemanticCache`` keeps every replica's entries in a local float32 matrix per
namespace, so a lookup is one matrix product. With a ``RedisSemanticStore`` the
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
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assistant.errors import ConfigError
from assistant.lru import LRU
from assistant.redis_guard import GuardedRedis
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


class RedisSemanticStore(GuardedRedis):
    """Shares semantic entries through one Redis Stream; never raises on Redis failures."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        prefix: str = "sa:",
        max_entries: int = 5000,
        cooldown_s: float = 1.0,
        page_size: int = 500,
    ) -> None:
        super().__init__(url, "semantic cache", timeout_s=timeout_s, cooldown_s=cooldown_s)
        self._stream = f"{prefix}semantic"
        self._max_entries = max_entries
        self._page_size = page_size
        self._origin = uuid.uuid4().hex.encode()  # to skip our own entries when reading
        self._last_id: bytes = b"0-0"  # a new replica first reads the whole stream
        self._pull_lock = threading.Lock()

    def publish(self, entry: SemanticEntry) -> None:
        fields: dict[Any, Any] = {
            "k": entry.key,
            "ns": entry.namespace,
            "q": entry.question,
            "v": entry.vector.astype("<f4").tobytes(),
            "o": self._origin,
        }
        self._call(
            lambda r: r.xadd(self._stream, fields, maxlen=self._max_entries, approximate=True),
            None,
        )

    def pull(self) -> list[SemanticEntry]:
        # One reader at a time; a concurrent lookup just uses the mirror as it is.
        if not self._pull_lock.acquire(blocking=False):
            return []
        try:
            entries: list[SemanticEntry] = []
            while True:
                page: Any = self._call(self._read_page, None)
                if not page:
                    return entries
                messages: list[tuple[bytes, dict[bytes, bytes]]] = page[0][1]
                for message_id, fields in messages:
                    self._last_id = message_id
                    entry = self._decode(fields)
                    if entry is not None:
                        entries.append(entry)
                if len(messages) < self._page_size:
                    return entries
        finally:
            self._pull_lock.release()

    def _read_page(self, client: Any) -> Any:
        # RESP2 reply: [[stream, [(id, {field: value}), ...]]], or None when nothing is new.
        return client.xread({self._stream: self._last_id}, count=self._page_size)

    def _decode(self, fields: dict[bytes, bytes]) -> SemanticEntry | None:
        if fields.get(b"o") == self._origin:
            return None
        try:
            vector = np.frombuffer(fields[b"v"], dtype="<f4").astype(np.float32)
            return SemanticEntry(
                fields[b"k"].decode(), fields[b"ns"].decode(), fields[b"q"].decode(), _unit(vector)
            )
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            logger.warning("semantic cache: skipped a malformed stream entry: %s", exc)
            return None
