"""A cap on model calls in flight, so a hung model cannot take every worker thread.

The HTTP service runs requests in a pool of 40 worker threads. Each call to a remote
model holds its thread until the model answers or the stall timeout fires; with no cap,
about 40 questions to a hung model leave nothing for anyone else. With a cap below the
pool, a question that finds no free slot within ``wait_s`` fails at once with
``UpstreamModelError``, which the service answers extractively (marked degraded).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from assistant.errors import ConfigError, UpstreamModelError


class ConcurrencyLimit:
    """At most ``max_concurrent`` holders at once; others wait up to ``wait_s`` seconds."""

    def __init__(self, max_concurrent: int = 8, wait_s: float = 0.5) -> None:
        if max_concurrent < 1:
            raise ConfigError(f"max_concurrent must be >= 1, got {max_concurrent}")
        if wait_s < 0:
            raise ConfigError(f"wait_s must be >= 0, got {wait_s}")
        self.max_concurrent = max_concurrent
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.rejected = 0  # calls refused because every slot was taken

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def slot(self, where: str) -> Iterator[None]:
        """Hold one slot for the body; ``UpstreamModelError`` when none frees up in time."""
        got = (
            self._slots.acquire(timeout=self.wait_s)
            if self.wait_s > 0
            else self._slots.acquire(blocking=False)
        )
        if not got:
            with self._lock:
                self.rejected += 1
            raise UpstreamModelError(
                f"{self.max_concurrent} calls to {where} already in flight and none finished "
                f"within {self.wait_s} s (ASSISTANT_LLM_MAX_CONCURRENCY)"
            )
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()
