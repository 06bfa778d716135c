"""Exact answer caches: an in-process LRU (the default) and Redis shared by replicas.

Both implement the ``Cache`` protocol of ``assistant.protocols`` and store values as
JSON, so a value read back is a fresh copy with the same shape from either backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from assistant.lru import LRU
from assistant.redis_guard import GuardedRedis

logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s?.!]+$")
_KEY_SEPARATOR = "\x1f"  # unit separator: ("a", "bc") and ("ab", "c") must differ


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


def _dump(key: str, value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
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
        # key -> (expires_at on self._clock, JSON text)
        self._items: LRU[str, tuple[float, str]] = LRU(max_entries)

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, text = item
        if self._clock() >= expires_at:
            self._items.pop(key)
            return None
        value: dict[str, Any] = json.loads(text)
        return value

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_ttl(ttl_s)
        self._items.put(key, (self._clock() + ttl_s, _dump(key, value)))

    def delete(self, key: str) -> None:
        self._items.pop(key)

    def __len__(self) -> int:
        return len(self._items)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self._items.clear()


class RedisCache(GuardedRedis):
    """Redis-backed cache shared by replicas; never raises when Redis is down or frozen.

    On a failure ``get`` returns None and ``set``/``delete`` do nothing; ``healthy``
    turns False and Redis is skipped for ``cooldown_s``; the next call that reaches
    Redis successfully sets ``healthy`` back to True.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.25,
        prefix: str = "sa:",
        cooldown_s: float = 1.0,
    ) -> None:
        super().__init__(url, "answer cache", timeout_s=timeout_s, cooldown_s=cooldown_s)
        self._prefix = prefix

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._call(lambda r: r.get(self._prefix + key), None)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            # Something else wrote this key; a miss is the safe answer.
            logger.warning("answer cache: value under %r is not JSON; ignored", key)
            return None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_ttl(ttl_s)
        text = _dump(key, value)
        self._call(lambda r: r.set(self._prefix + key, text, ex=ttl_s), None)

    def delete(self, key: str) -> None:
        self._call(lambda r: r.delete(self._prefix + key), None)
