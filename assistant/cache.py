"""Exact answer caches: an in-process LRU (the default) and Redis shared by replicas.

Both implement the ``Cache`` protocol of ``assistant.protocols`` and store values as
JSON, so a value read back is a fresh copy with the same shape from either backend.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import orjson

from assistant.lru import LRU
from assistant.redis_guard import GuardedRedis

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
        self._group = GroupWriter(self.set_many, "answer-cache-writes")

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._call(lambda r: r.get(self._prefix + key), None)
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except ValueError:
            # Something else wrote this key; a miss is the safe answer.
            logger.warning("answer cache: value under %r is not JSON; ignored", key)
            return None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_ttl(ttl_s)
        text = _dump(key, value)
        self._call(lambda r: r.set(self._prefix + key, text, ex=ttl_s), None)

    def set_many(self, writes: Sequence[Write]) -> None:
        """Every write in one round trip (a pipeline, not a transaction)."""
        for _, _, ttl_s in writes:
            _check_ttl(ttl_s)
        texts = [(self._prefix + key, _dump(key, value), ttl_s) for key, value, ttl_s in writes]
        if texts:
            self._call(lambda r: _pipelined(r, texts), None)

    def submit(self, writes: Sequence[Write]) -> Future[None]:
        """``set_many`` from the group writer: done once Redis has them (or failed to).

        For callers on the event loop, which must not wait on a socket: writes that
        arrive while a pipeline is in flight all go in the next one (a group commit).
        """
        for _, _, ttl_s in writes:
            _check_ttl(ttl_s)
        return self._group.submit(list(writes))

    def delete(self, key: str) -> None:
        self._call(lambda r: r.delete(self._prefix + key), None)

    def close(self) -> None:
        self._group.close()
        super().close()


def _pipelined(client: Any, texts: list[tuple[str, bytes, int]]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for key, text, ttl_s in texts:
            pipe.set(key, text, ex=ttl_s)
        pipe.execute()


class GroupWriter:
    """One thread that writes every batch submitted meanwhile in one ``set_many`` call."""

    def __init__(self, set_many: Callable[[list[Write]], None], name: str) -> None:
        self._set_many = set_many
        self._name = name
        self._pending: list[tuple[list[Write], Future[None]]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, writes: list[Write]) -> Future[None]:
        done: Future[None] = Future()
        with self._wake:
            if self._closed:  # shutting down: write it here, as set() would
                self._run_batch([(writes, done)])
                return done
            self._pending.append((writes, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return done

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                if not batch:
                    return  # closed and drained
            self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[list[Write], Future[None]]]) -> None:
        try:
            self._set_many([w for writes, _ in batch for w in writes])
        except Exception as exc:  # set_many never raises on outages; anything else is a bug
            logger.exception("%s: writes failed", self._name)
            for _, done in batch:
                done.set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is pending, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
