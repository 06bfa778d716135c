"""The caches' Redis backends, shared by replicas: `RedisCache` (exact answers, see
``assistant.cache``) and `RedisSemanticStore` (see ``assistant.semantic_cache``).

Their own module, so that a process with the in-process caches never imports redis-py.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import orjson

from assistant.cache import Write, _check_ttl, _dump
from assistant.redis_guard import GuardedRedis
from assistant.semantic_cache import SemanticEntry, _unit

logger = logging.getLogger(__name__)


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
