"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request ids, body limit, metrics."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.ids import new_id

logger = logging.getLogger(__name__)

REQUESTS = Counter("assistant_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "assistant_http_request_duration_seconds",
    "HTTP request latency (to the end of the response body)",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class RequestContextMiddleware:
    """Adds X-Request-ID, refuses bodies over ``max_body_bytes`` (413), records metrics."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # (method, route, status) -> its request counter and latency histogram; bounded by
        # the routes times the statuses they answer ("unmatched" for every unknown path).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or new_id()
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = 500

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _reject(send, rid, int(length), self.max_body_bytes)
            self._observe(scope, 413, start)
            return
        received = 0
        too_large = 0  # bytes received when a body without Content-Length passed the limit
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = received
                    raise _TooLarge(received)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, rejected
            if too_large:
                # FastAPI turns any error while reading the body into its own 400;
                # the client must get the 413 instead, and nothing after it.
                if message["type"] == "http.response.start" and not rejected:
                    rejected = True
                    status = 413
                    await _reject(send, rid, too_large, self.max_body_bytes, partial=True)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge as exc:
            status = 413
            if not rejected:
                await _reject(send, rid, exc.size, self.max_body_bytes, partial=True)
        finally:
            self._observe(scope, status, start)

    def _observe(self, scope: Scope, status: int, start: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        key = (scope.get("method", ""), path, status)
        series = self._series.get(key)
        if series is None:  # labels() formats and locks on every call: once per series
            series = (REQUESTS.labels(key[0], path, str(status)), LATENCY.labels(path))
            self._series[key] = series
        series[0].inc()
        series[1].observe(time.perf_counter() - start)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


async def _reject(send: Send, rid: str, size: int, limit: int, *, partial: bool = False) -> None:
    # partial: the body had no Content-Length and reading stopped once it passed the limit.
    at_least = "at least " if partial else ""
    body: dict[str, Any] = {
        "error": {
            "type": "payload_too_large",
            "message": f"request body is {at_least}{size} bytes, the limit is {limit} (ASSISTANT_MAX_BODY_BYTES)",
            "request_id": rid,
        }
    }
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"x-request-id", rid.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
