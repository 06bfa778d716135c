"""The ``openai`` SDK's exceptions as our error tree, with secrets kept out of every message.

    APIStatusError 400/413/422       → BadInputError (the request itself is wrong)
    APIStatusError 504               → UpstreamTimeoutError (the gateway timed out)
    APIStatusError other             → UpstreamModelError (401, 404, 429, 5xx...)
    APITimeoutError                  → UpstreamTimeoutError (connect, no response, stall)
    APIConnectionError               → UpstreamModelError
    APIError (an error in a stream)  → UpstreamModelError

Messages name the endpoint without credentials (``safe_url``), quote the provider's own
error text (scrubbed of the API key, which some providers echo back) and count the
attempts the SDK made. Status errors are raised ``from None``: the SDK's exception
carries the provider's body unscrubbed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai

from assistant.errors import AssistantError, BadInputError, UpstreamModelError, UpstreamTimeoutError
from assistant.generation.retry import waits_too_long

MAX_ERROR_CHARS = 300  # provider error text kept in our messages
BAD_INPUT_STATUSES = frozenset({400, 413, 422})


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


def provider_message(body: Any) -> str:
    """The provider's error text: OpenAI ``{"message"}``, FastAPI ``detail``, or the raw body."""
    err = body
    if isinstance(body, dict):
        err = body.get("message", body.get("detail", body))
        if isinstance(err, dict):
            err = err.get("message", err)
    text = err if isinstance(err, str) else json.dumps(err, default=str)
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "…"
    return text or "(empty body)"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What error messages say about the endpoint, and the secret they must not contain."""

    where: str  # the completions URL without credentials
    api_key: str | None
    connect_s: float
    timeout_s: float
    stall_s: float
    max_retry_after_s: float

    def error(self, exc: openai.OpenAIError, *, streaming: bool) -> AssistantError:
        """Our error for an SDK exception (raise it ``from None`` or ``from exc``, see above)."""
        detail, kind = self._describe(exc, streaming)
        request = getattr(exc, "request", None)
        retries = request.headers.get("x-stainless-retry-count") if request is not None else None
        if retries and retries.isdigit() and int(retries) > 0:
            detail += f" after {int(retries) + 1} attempts"
        message = redact(f"openai backend: {detail}", self.api_key)
        return kind(message)

    def _describe(
        self, exc: openai.OpenAIError, streaming: bool
    ) -> tuple[str, type[AssistantError]]:
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = f"{self.where} returned HTTP {status}: {provider_message(exc.body)}"
            wait = waits_too_long(exc.response.headers, self.max_retry_after_s)
            if wait is not None:
                detail += (
                    f" (asked to retry after {wait:.1f} s, more than the "
                    f"{self.max_retry_after_s:g} s ceiling ASSISTANT_LLM_MAX_RETRY_AFTER_S)"
                )
            if status in BAD_INPUT_STATUSES:
                return detail, BadInputError
            return detail, UpstreamTimeoutError if status == 504 else UpstreamModelError
        cause = exc.__cause__
        if isinstance(exc, openai.APITimeoutError):
            if isinstance(cause, httpx.ConnectTimeout):
                return f"could not connect to {self.where} within {self.connect_s} s", UpstreamTimeoutError  # fmt: skip
            if isinstance(cause, httpx.ReadTimeout) or cause is None:
                what = f"stream stalled: no bytes for {self.stall_s} s" if streaming else f"no response within {self.timeout_s} s"  # fmt: skip
                return f"{self.where} {what}", UpstreamTimeoutError
            return f"{self.where} {type(cause).__name__} after {self.timeout_s} s", UpstreamTimeoutError  # fmt: skip
        if isinstance(exc, openai.APIConnectionError):
            why = f"{type(cause).__name__}: {cause}" if cause is not None else exc.message
            return f"connection to {self.where} failed: {why}", UpstreamModelError
        if isinstance(exc, openai.APIError):  # an error event in a stream
            what = "stream error" if streaming else "error"
            return f"{self.where} {what}: {provider_message(exc.message)}", UpstreamModelError
        return f"{self.where}: {type(exc).__name__}: {exc}", UpstreamModelError
