"""Answers from an OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM, Ollama).

Each call makes at most ``max_retries + 1`` HTTP attempts: 429, 500, 502, 503, 504 and
connection failures are retried after exponential backoff with jitter, or after the
server's ``Retry-After`` when it is at most ``max_retry_after_s`` (longer: fail at once,
so the caller falls back instead of retrying early); other 4xx fail at once. A stream
is retried only until its first piece of text has been handed to the caller, and fails
with ``UpstreamTimeoutError`` when no byte arrives for ``stall_timeout_s``. A circuit
breaker counts whole failed calls and, once tripped, fails calls fast without a request.
At most ``max_concurrency`` calls are in flight; one that finds no free slot within
``queue_wait_s`` fails with ``UpstreamModelError`` (the service then answers extractively).
Output that reproduces the system prompt is refused (``assistant.output_guard``).

The API key travels only in the ``Authorization`` header; it is scrubbed from every
message built here and never kept in a repr. A base URL carrying credentials
(``user:pass@host``) is refused: they would be sent and could reach logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from collections.abc import Generator as PyGenerator
from typing import Any, TypeVar

import httpx

from assistant.errors import (
    AssistantError,
    BadInputError,
    ConfigError,
    UpstreamModelError,
    UpstreamTimeoutError,
)
from assistant.generation.breaker import CircuitBreaker
from assistant.generation.limits import ConcurrencyLimit
from assistant.generation.openai_wire import (
    error_message,
    first_choice,
    parse_usage,
    redact,
    safe_url,
    sse_data,
)
from assistant.generation.retry import (
    AttemptFailed,
    RetryPolicy,
    failure_from_response,
    failure_from_transport,
)
from assistant.output_guard import guard_stream, reproduces_system_prompt
from assistant.protocols import GenerationRequest
from assistant.tokens import count_tokens_estimate
from assistant.types import Generation, Usage

T = TypeVar("T")


class OpenAIGenerator:
    """Generator backed by an OpenAI-compatible chat-completions HTTP endpoint."""

    backend = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        stall_timeout_s: float | None = None,
        max_retry_after_s: float = 10.0,
        max_concurrency: int = 8,
        queue_wait_s: float = 0.5,
        breaker: CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            url: httpx.URL | None = httpx.URL(base_url) if isinstance(base_url, str) else None
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"base_url must be an http(s) URL, got {safe_url(str(base_url))!r}")
        if url.userinfo:
            raise ConfigError(
                f"base_url must not carry credentials (user:password@): got "
                f"{safe_url(base_url)!r} with user-info; put the key in ASSISTANT_LLM_API_KEY"
            )
        if not model or not model.strip():
            raise ConfigError(f"model must be a non-empty name, got {model!r}")
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value}")
        if stall_timeout_s is not None and not stall_timeout_s > 0:
            raise ConfigError(f"stall_timeout_s must be > 0, got {stall_timeout_s}")
        self.retry = RetryPolicy(max_retries, backoff_s, max_backoff_s, max_retry_after_s)
        self.limit = ConcurrencyLimit(max_concurrency, queue_wait_s)

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.stall_timeout_s = stall_timeout_s if stall_timeout_s is not None else timeout_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._api_key = api_key or None  # kept only to scrub it from provider messages
        self._url = f"{self.base_url}/chat/completions"
        self._where = safe_url(self._url)
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._timeout = httpx.Timeout(
            connect=connect_timeout_s, read=timeout_s, write=timeout_s, pool=timeout_s
        )
        # In a stream the read timeout is the gap allowed between two bytes: the stall limit.
        self._stream_timeout = httpx.Timeout(
            connect=connect_timeout_s, read=self.stall_timeout_s, write=timeout_s, pool=timeout_s
        )
        self._client = httpx.Client(headers=headers, timeout=self._timeout, transport=transport)

    def __repr__(self) -> str:
        return (
            f"OpenAIGenerator(base_url={safe_url(self.base_url)!r}, model={self.model!r}, "
            f"breaker={self.breaker.state!r})"
        )

    def __enter__(self) -> OpenAIGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    # --- the Generator protocol ---------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Generation:
        """One non-streamed completion, with retries and the breaker."""
        body = self._body(request, stream=False)
        with self.limit.slot(self._where), self.breaker.guard(self._where):
            generation = self._with_retries(lambda: self._complete_once(body, request))
        # Checked outside the breaker: the endpoint worked, the answer is what is refused.
        if reproduces_system_prompt(generation.text):
            raise self._leak_error()
        return generation

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Text deltas as they arrive, then one final ``Generation`` (full text, usage)."""
        body = self._body(request, stream=True)
        with self.limit.slot(self._where):
            yield from guard_stream(self._stream_call(body, request), self._leak_error)

    def _stream_call(
        self, body: dict[str, Any], request: GenerationRequest
    ) -> PyGenerator[str | Generation, None, None]:
        with self.breaker.guard(self._where):
            generation = yield from self._stream_with_retries(body, request)
        yield generation

    def _transport_failure(self, exc: httpx.HTTPError, *, streaming: bool) -> AttemptFailed:
        stall = self.stall_timeout_s if streaming else None
        return failure_from_transport(
            exc, self._where, self._timeout.connect, self.timeout_s, stall
        )

    def _leak_error(self) -> UpstreamModelError:
        return UpstreamModelError(
            f"openai backend: the answer of {self.model!r} reproduced the system prompt; withheld"
        )

    # --- request building ----------------------------------------------------------------

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        if not request.messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role")
            for m in request.messages
        ):
            raise BadInputError(
                f"messages must be a non-empty list of {{role, content}} dicts, got {request.messages!r:.200}"
            )
        if request.max_tokens <= 0:
            raise BadInputError(f"max_tokens must be > 0, got {request.max_tokens}")
        if not 0 <= request.temperature <= 2:
            raise BadInputError(f"temperature must be in [0, 2], got {request.temperature}")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    # --- attempts and retries --------------------------------------------------------------

    def _with_retries(self, once: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return once()
            except AttemptFailed as failed:
                if self.retry.gives_up(failed, attempt):
                    raise self._final_error(failed, attempt) from failed.__cause__
                self.retry.wait(failed, attempt, self._scrub)

    def _stream_with_retries(
        self, body: dict[str, Any], request: GenerationRequest
    ) -> PyGenerator[str, None, Generation]:
        attempt = 0
        while True:
            attempt += 1
            sent: list[str] = []  # deltas already handed to the caller in this attempt
            try:
                return (yield from self._stream_once(body, request, sent))
            except AttemptFailed as failed:
                if sent:
                    failed.detail += " (after part of the answer was streamed; not retried)"
                if sent or self.retry.gives_up(failed, attempt):
                    raise self._final_error(failed, attempt) from failed.__cause__
                self.retry.wait(failed, attempt, self._scrub)

    def _scrub(self, text: str) -> str:
        return redact(text, self._api_key)

    def _final_error(self, failed: AttemptFailed, attempts: int) -> AssistantError:
        tail = f" after {attempts} attempts" if attempts > 1 else ""
        message = self._scrub(f"openai backend: {failed.detail}{tail}")
        if failed.bad_input:
            return BadInputError(message)
        if failed.timeout:
            return UpstreamTimeoutError(message)
        return UpstreamModelError(message)

    # --- one HTTP attempt ----------------------------------------------------------------

    def _complete_once(self, body: dict[str, Any], request: GenerationRequest) -> Generation:
        try:
            response = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, streaming=False) from exc
        if not response.is_success:
            raise failure_from_response(response, self._where)
        return self._parse_completion(self._json(response.text), request)

    def _stream_once(
        self, body: dict[str, Any], request: GenerationRequest, sent: list[str]
    ) -> PyGenerator[str, None, Generation]:
        model, usage, finish, done = "", None, None, False
        try:
            with self._client.stream(
                "POST", self._url, json=body, timeout=self._stream_timeout
            ) as response:
                if not response.is_success:
                    response.read()
                    raise failure_from_response(response, self._where)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that ignored "stream": answer with its whole reply at once.
                    generation = self._parse_completion(
                        self._json(response.read().decode()), request
                    )
                    if generation.text:
                        sent.append(generation.text)
                        yield generation.text
                    return generation
                for payload in sse_data(response.iter_lines()):
                    if payload.strip() == "[DONE]":
                        done = True
                        break
                    chunk = self._json(payload)
                    if "error" in chunk:
                        msg = error_message(payload.encode(), "application/json")
                        raise AttemptFailed(f"{self._where} stream error: {msg}", retryable=False)
                    model = str(chunk.get("model") or model)
                    usage = parse_usage(chunk.get("usage")) or usage
                    choice = first_choice(chunk)
                    delta = choice.get("delta")
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str) and content:
                        sent.append(content)
                        yield content
                    finish = choice.get("finish_reason") or finish
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, streaming=True) from exc
        if not done and finish is None:
            raise AttemptFailed(f"{self._where} stream ended before [DONE]", retryable=True)
        text = "".join(sent)
        return Generation(
            text=text,
            usage=usage or self._estimate_usage(request, text),
            model=model or self.model,
            finish_reason=str(finish or "stop"),
        )

    def _parse_completion(self, data: dict[str, Any], request: GenerationRequest) -> Generation:
        choice = first_choice(data)
        message = choice.get("message")
        if not isinstance(message, dict):
            raise AttemptFailed(f"{self._where} sent no choices[0].message", retryable=False)
        text = message.get("content") or ""
        if not isinstance(text, str):
            raise AttemptFailed(f"{self._where} sent non-text content", retryable=False)
        return Generation(
            text=text,
            usage=parse_usage(data.get("usage")) or self._estimate_usage(request, text),
            model=str(data.get("model") or self.model),
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    def _json(self, text: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AttemptFailed(
                f"{self._where} sent malformed JSON: {text[:120]!r}", retryable=False
            ) from exc
        if not isinstance(data, dict):
            raise AttemptFailed(f"{self._where} sent JSON that is not an object", retryable=False)
        return data

    def _estimate_usage(self, request: GenerationRequest, text: str) -> Usage:
        # Some servers omit usage (notably in streams). Even a tiktoken count misses the
        # provider's per-message overhead, so the result is always marked inexact.
        prompt = "\n".join(m.get("content", "") for m in request.messages)
        return Usage(
            prompt_tokens=count_tokens_estimate(prompt, model=self.model)[0],
            completion_tokens=count_tokens_estimate(text, model=self.model)[0],
            exact=False,
        )
