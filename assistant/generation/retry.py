"""Which failed HTTP attempts to a model endpoint are retried, and after how long.

429, 500, 502, 503, 504 and connection failures are retried after exponential backoff
with jitter, or after exactly the server's ``Retry-After``. A ``Retry-After`` longer than
``max_retry_after_s`` is not cut short (the retry would go out before the provider allows
it): the call gives up at once, so the caller can fall back. Other 4xx are the caller's
or the configuration's fault and fail at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import httpx

from assistant.errors import ConfigError
from assistant.generation.openai_wire import error_message, parse_retry_after

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BAD_INPUT_STATUSES = frozenset({400, 413, 422})  # the request itself is wrong (e.g. too long)


class AttemptFailed(Exception):
    """One HTTP attempt failed; says whether another attempt may help."""

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        timeout: bool = False,
        bad_input: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait
        self.timeout = timeout
        self.bad_input = bad_input


def failure_from_response(response: httpx.Response, where: str) -> AttemptFailed:
    """Classify a non-2xx response (its body must already be read)."""
    status = response.status_code
    msg = error_message(response.content, response.headers.get("content-type", ""))
    detail = f"{where} returned HTTP {status}: {msg}"
    if status in RETRY_STATUSES:
        return AttemptFailed(
            detail,
            retryable=True,
            retry_after=parse_retry_after(response.headers),
            timeout=status == 504,  # the gateway in front of the model timed out
        )
    return AttemptFailed(detail, retryable=False, bad_input=status in BAD_INPUT_STATUSES)


def failure_from_transport(
    exc: httpx.HTTPError,
    where: str,
    connect_s: float | None,
    timeout_s: float,
    stall_s: float | None = None,
) -> AttemptFailed:
    """Classify a transport error; ``stall_s`` is set for streams (the gap between bytes)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return AttemptFailed(
            f"could not connect to {where} within {connect_s} s", retryable=True, timeout=True
        )
    if isinstance(exc, httpx.ReadTimeout):
        what = (
            f"stream stalled: no bytes for {stall_s} s"
            if stall_s is not None
            else f"no response within {timeout_s} s"
        )
        return AttemptFailed(f"{where} {what}", retryable=False, timeout=True)
    if isinstance(exc, httpx.TimeoutException):
        return AttemptFailed(
            f"{where} {type(exc).__name__} after {timeout_s} s", retryable=False, timeout=True
        )
    retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
    return AttemptFailed(
        f"connection to {where} failed: {type(exc).__name__}: {exc}", retryable=retryable
    )


class RetryPolicy:
    """Bounded attempts with exponential backoff and jitter."""

    def __init__(
        self,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_after_s: float = 10.0,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ConfigError(f"backoff must be >= 0, got {backoff_s=}, {max_backoff_s=}")
        if not max_retry_after_s >= 0:
            raise ConfigError(f"max_retry_after_s must be >= 0, got {max_retry_after_s}")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._rng = random.Random()

    def waits_too_long(self, failed: AttemptFailed) -> bool:
        """The server asked for a longer pause than we are willing to hold a request."""
        return failed.retry_after is not None and failed.retry_after > self.max_retry_after_s

    def gives_up(self, failed: AttemptFailed, attempt: int) -> bool:
        """True when attempt number ``attempt`` (from 1) was the last one."""
        if failed.retryable and attempt <= self.max_retries and self.waits_too_long(failed):
            failed.detail += (
                f" (asked to retry after {failed.retry_after:.1f} s, more than the "
                f"{self.max_retry_after_s:g} s ceiling ASSISTANT_LLM_MAX_RETRY_AFTER_S)"
            )
            return True
        return not failed.retryable or attempt > self.max_retries

    def delay_s(self, failed: AttemptFailed, attempt: int) -> float:
        if failed.retry_after is not None:
            # Honoured as sent: never earlier than the provider allows (gives_up refused
            # any value above the ceiling).
            return min(failed.retry_after, self.max_retry_after_s)
        # "Equal jitter": never retry instantly, yet spread many clients' retries apart.
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def wait(self, failed: AttemptFailed, attempt: int, scrub: Callable[[str], str]) -> None:
        """Log the failed attempt (through ``scrub``, which removes secrets) and sleep."""
        delay = self.delay_s(failed, attempt)
        logger.warning(
            "model endpoint: attempt %d of %d failed (%s); retrying in %.2f s",
            attempt,
            self.max_retries + 1,
            scrub(failed.detail),
            delay,
        )
        time.sleep(delay)
