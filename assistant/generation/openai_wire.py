"""The OpenAI chat-completions wire format: SSE events, usage, error bodies, Retry-After.

Pure functions over strings and headers, kept apart from the HTTP client loop in
``openai.py`` so each can be read (and changed) on its own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant.types import Usage

MAX_ERROR_CHARS = 300  # provider error text kept in our messages


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def safe_url(url: str) -> str:
    """``url`` without user-info, query or fragment, which may carry credentials."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:  # unparseable (bad IPv6 literal, port): strip by hand
        return re.sub(r"//[^/@]*@", "//", url).split("?")[0].split("#")[0]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


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


def error_message(body: bytes, content_type: str) -> str:
    """The provider's own error text: OpenAI ``{"error": {"message"}}``, FastAPI ``detail``, or raw."""
    text = body.decode("utf-8", errors="replace").strip()
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            err = data.get("error", data.get("detail", data.get("message")))
            if isinstance(err, dict):
                err = err.get("message", err)
            if err is not None:
                text = err if isinstance(err, str) else json.dumps(err)
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "…"
    return text or "(empty body)"


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` payload of each server-sent event (multi-line data joined by newlines)."""
    buf: list[str] = []
    for line in lines:
        if not line:  # a blank line dispatches the event
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):  # comment / keep-alive ping
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
        # event:, id:, retry: carry nothing the chat-completions stream needs
    if buf:
        yield "\n".join(buf)


def parse_usage(data: Any) -> Usage | None:
    """The exact ``usage`` object of a response or final stream chunk, or None when absent."""
    if not isinstance(data, dict):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, exact=True)


def first_choice(data: dict[str, Any]) -> dict[str, Any]:
    """``choices[0]`` of a response or chunk, or ``{}`` (usage-only chunks have no choices)."""
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}
