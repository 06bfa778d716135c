"""A thread-safe circuit breaker for calls to a remote model endpoint.

    closed ──(failure_threshold consecutive failures)──► open
    open ──(reset_after_s elapsed)──► half-open: exactly one trial call is let through
    half-open ──trial succeeds──► closed        half-open ──trial fails──► open (timer restarts)

While open, ``acquire()`` says no without touching the network, so a dead endpoint
costs callers microseconds instead of a connect timeout times the retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from assistant.errors import AssistantError, ConfigError, UpstreamModelError

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failed calls and refuses calls for a cool-down once tripped."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ConfigError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_after_s < 0:
            raise ConfigError(f"reset_after_s must be >= 0, got {reset_after_s}")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # consecutive failed calls since the last success
        self._opened_at: float | None = None  # clock time of the trip; None while closed
        self._trial_started: float | None = None  # clock time the half-open trial began

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self.state!r}, failures={self._failures}, "
            f"failure_threshold={self.failure_threshold}, reset_after_s={self.reset_after_s})"
        )

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half_open" if now - self._opened_at >= self.reset_after_s else "open"

    def acquire(self) -> bool:
        """May a call go out now? In half-open, True for exactly one trial at a time."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == "closed":
                return True
            if state == "open":
                return False
            # A trial whose caller never reported (killed thread) must not wedge the
            # breaker forever: after another cool-down a new trial is allowed.
            if self._trial_started is not None and now - self._trial_started < self.reset_after_s:
                return False
            self._trial_started = now
            return True

    def retry_in_s(self) -> float:
        """Seconds until the next trial call is allowed (0 when calls may go out)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.reset_after_s - self._clock())

    def record_success(self) -> None:
        """The endpoint answered: close the circuit and forget earlier failures."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_started = None

    def record_failure(self) -> None:
        """The endpoint failed a whole call (after its retries)."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            was_trial = self._trial_started is not None
            self._trial_started = None
            if was_trial or self._failures >= self.failure_threshold:
                self._opened_at = now

    def release(self) -> None:
        """A call ended without evidence either way (e.g. interrupted): free the trial slot."""
        with self._lock:
            self._trial_started = None

    @contextmanager
    def guard(self, where: str) -> Iterator[None]:
        """Wrap one whole call to ``where``: fail fast while open, then record the outcome.

        ``UpstreamModelError`` counts as a failure; any other ``AssistantError`` (a 4xx:
        the endpoint did answer) or ``GeneratorExit`` (a caller stopped a flowing stream)
        as a success; anything else frees the trial slot without a verdict.
        """
        if not self.acquire():
            raise UpstreamModelError(
                f"circuit open for {where} after repeated failures; "
                f"next trial in {self.retry_in_s():.1f} s"
            )
        try:
            yield
        except UpstreamModelError:
            self.record_failure()
            raise
        except (AssistantError, GeneratorExit):
            self.record_success()
            raise
        except BaseException:
            self.release()
            raise
        else:
            self.record_success()
