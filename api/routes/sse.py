"""Server-sent events framing shared by /v1/ask and /v1/chat/completions."""

from __future__ import annotations

import json
from typing import Any

import orjson

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_DONE = b"data: [DONE]\n\n"  # the OpenAI stream's last event


def sse(event: str | None, data: Any) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def sse_data(data: Any) -> bytes:
    """One unnamed event: ``data`` as compact JSON, encoded once by orjson (UTF-8)."""
    return b"data: " + orjson.dumps(data) + b"\n\n"
