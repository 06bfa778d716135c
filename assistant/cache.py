"""Exact answer caches: an in-process LRU (the default) and, in ``assistant.redis_cache``
(imported only when configured), Redis shared by replicas.

Both implement the ``Cache`` protocol of ``assistant.protocols`` and store values as
JSON, so a value read back is a fresh copy with the same shape from either backend.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import orjson

from assistant.lru import LRU

logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s?.!]+$")
_KEY_SEPARATOR = "\x1f"  # unit separator: ("a", "bc") and ("ab", "c") must differ

Write = tuple[str, dict[str, Any], int]  # (key, value, ttl_s) of one ``set``


def exact_key(*parts: str) -> str:
    """sha256 hex of the parts, joined by a separator that cannot occur in them by accident."""
    return hashlib.sha256(_KEY_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


def normalize_question(q: str) -> str:
    """Casefolded, whitespace-collapsed, without trailing ``?``/``.``/``!``.

    Only differences that never change meaning are removed: digits, negations,
    inner punctuation and word order are kept.
    """
    text = unicodedata.normalize("NFKC", q).casefold()
    text = text.replace("\u2019", "'")  # typographic apostrophe, as phones type it
    text = _WHITESPACE.sub(" ", text).strip()
    return _TRAILING_PUNCT.sub("", text)


def _dump(key: str, value: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (orjson: a cached answer writes two of these per request)."""
    try:
        return orjson.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cache value for key {key!r} is not JSON-serialisable: {exc}") from exc


def _check_ttl(ttl_s: int) -> None:
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be > 0 seconds, got {ttl_s!r}")


class MemoryCache:
    """Thread-safe in-process LRU with a TTL per entry."""

    healthy = True  # nothing outside the process can fail
    last_error: str | None = None

    def __init__(
        self, max_entries: int = 2048, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self._clock = clock
        # key -> (expires_at on self._clock, JSON)
        self._items: LRU[str, tuple[float, bytes]] = LRU(max_entries)

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, text = item
        if self._clock() >= expires_at:
            self._items.pop(key)
            return None
        value: dict[str, Any] = orjson.loads(text)
        return value

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_ttl(ttl_s)
        self._items.put(key, (self._clock() + ttl_s, _dump(key, value)))

    def set_many(self, writes: Sequence[Write]) -> None:
        for key, value, ttl_s in writes:
            self.set(key, value, ttl_s)

    def submit(self, writes: Sequence[Write]) -> Future[None]:
        """``set_many`` now (nothing here waits on I/O); an already finished future."""
        done: Future[None] = Future()
        try:
            self.set_many(writes)
        except Exception as exc:  # a bad value: the caller sees it as from set()
            done.set_exception(exc)
        else:
            done.set_result(None)
        return done

    def delete(self, key: str) -> None:
        self._items.pop(key)

    def __len__(self) -> int:
        return len(self._items)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self._items.clear()
