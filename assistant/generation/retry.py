"""Where our retry policy narrows the official ``openai`` SDK's, at the HTTP transport.

The SDK makes up to ``max_retries + 1`` attempts: 408, 409, 429, 5xx, connection
errors and timeouts are retried after exponential backoff with jitter (0.5 s doubling
to 8 s), or after the server's ``Retry-After`` when it is at most two minutes. Two
things differ here, both through the SDK's public switches:

- a read timeout (the endpoint took the request and went quiet) ends the call: it is
  raised as ``openai.APITimeoutError``, which the SDK passes on without retrying, so a
  hung model costs one timeout before the extractive fallback, not ``max_retries + 1``;
- a ``Retry-After`` longer than ``max_retry_after_s`` marks the response
  ``x-should-retry: false``, so the call fails at once (the caller falls back) instead
  of holding the learner's request that long; it is never cut short either.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime

import httpx
import openai

from assistant.errors import ConfigError


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` (seconds or HTTP-date), or None."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one means the same
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def waits_too_long(headers: Mapping[str, str], max_retry_after_s: float) -> float | None:
    """The server's ``Retry-After`` when it is above the ceiling, else None."""
    wait = parse_retry_after(headers)
    return wait if wait is not None and wait > max_retry_after_s else None


class _FinalOnReadTimeout(httpx.SyncByteStream):
    """A response body whose read timeouts are final (the SDK does not retry its errors)."""

    def __init__(self, inner: httpx.SyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpx.ReadTimeout as exc:
            raise openai.APITimeoutError(request=self._request) from exc  # type: ignore[arg-type]

    def close(self) -> None:
        self._inner.close()


class RetryPolicyTransport(httpx.BaseTransport):
    """An HTTP transport that makes read timeouts final and refuses long ``Retry-After`` waits."""

    def __init__(self, max_retry_after_s: float, inner: httpx.BaseTransport | None = None) -> None:
        if not max_retry_after_s >= 0:
            raise ConfigError(f"max_retry_after_s must be >= 0, got {max_retry_after_s}")
        self.max_retry_after_s = max_retry_after_s
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._inner.handle_request(request)
        except httpx.ReadTimeout as exc:
            raise openai.APITimeoutError(request=request) from exc  # type: ignore[arg-type]
        # Any status: the SDK retries every 5xx (and 408/409/429) and waits out Retry-After.
        if waits_too_long(response.headers, self.max_retry_after_s) is not None:
            response.headers["x-should-retry"] = "false"
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _FinalOnReadTimeout(response.stream, request)
        return response

    def close(self) -> None:
        self._inner.close()
