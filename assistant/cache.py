"""Exact answer caches: an in-process LRU (the default) and Redis shared by replicas.

Both implement the ``Cache`` protocol of ``assistant.protocols`` and store values as
JSON, so a value read back is a fresh copy with the same shape from either backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from assistant.errors import ConfigError
from assistant.redis_guard import RedisGuard, redis_client

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

    def __init__(
        self, max_entries: int = 2048, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries <= 0:
            raise ConfigError(f"max_entries must be > 0, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        # key -> (expires_at on self._clock, JSON text); order = least recently used first
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.healthy = True
        self.last_error: str | None = None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires_at, text = item
            if self._clock() >= expires_at:
                del self._items[key]
                return None
            self._items.move_to_end(key)
        value: dict[str, Any] = json.loads(text)
        return value

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_ttl(ttl_s)
        text = _dump(key, value)
        with self._lock:
            self._items[key] = (self._clock() + ttl_s, text)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._items.clear()


class RedisCache:
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
        self._client = redis_client(url, timeout_s=timeout_s)
        self._prefix = prefix
        self._guard = RedisGuard("answer cache", cooldown_s=cooldown_s)

    @property
    def healthy(self) -> bool:
        return self._guard.healthy

    @property
    def last_error(self) -> str | None:
        return self._guard.last_error

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._guard.call(lambda: self._client.get(self._prefix + key), None)
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
        self._guard.call(lambda: self._client.set(self._prefix + key, text, ex=ttl_s), None)

    def delete(self, key: str) -> None:
        self._guard.call(lambda: self._client.delete(self._prefix + key), None)

    def ping(self) -> bool:
        """True when Redis answers now (for /ready); False during a cool-down."""
        return bool(self._guard.call(lambda: self._client.ping(), False))

    def close(self) -> None:
        try:
            self._client.close()
        except Exception as exc:  # closing must not fail a shutdown
            logger.debug("answer cache: close failed: %s", exc)
