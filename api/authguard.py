"""Slows down guessing: failed authentications are counted per client address.

GCRA, as in ``assistant.ratelimit``: an address may fail ``per_minute`` times at once,
then once every ``60 / per_minute`` seconds. While its budget is spent *every* attempt
from it gets a 429 before its key is even looked at, so a guess that happens to be right
cannot be told apart from a wrong one until the wait is over.

The count lives in this process: with N replicas a client gets N times the budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from assistant.errors import ConfigError

WINDOW_S = 60.0
MAX_TRACKED = 100_000  # addresses remembered at once; a flood from more is forgotten first


class AuthFailureLimiter:
    """Per-address budget of failed authentications (thread-safe)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ConfigError(f"per_minute must be >= 1, got {per_minute!r}")
        self.per_minute = per_minute
        self._interval = WINDOW_S / per_minute
        self._clock = clock
        self._tat: dict[str, float] = {}  # address -> theoretical arrival time
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def blocked(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        with self._lock:
            now = self._clock()
            tat = self._tat.get(address, now)
            wait = tat + self._interval - WINDOW_S - now
            return wait if wait > 0 else None

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        with self._lock:
            now = self._clock()
            if now >= self._next_prune or len(self._tat) >= MAX_TRACKED:
                self._tat = {k: v for k, v in self._tat.items() if v > now}
                if len(self._tat) >= MAX_TRACKED:
                    self._tat.clear()
                self._next_prune = now + WINDOW_S
            self._tat[address] = max(self._tat.get(address, now), now) + self._interval
