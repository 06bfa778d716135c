"""Answers from an OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM, Ollama).

Requests go through the official ``openai`` SDK, which retries 408/409/429/5xx,
connection errors and connect timeouts up to ``max_retries`` times, honouring
``Retry-After``; ``retry.RetryPolicyTransport`` makes read timeouts final and fails
at once when the server asks for a longer wait than ``max_retry_after_s``. A stream is
retried until its response begins, then never: it fails with ``UpstreamTimeoutError``
when no byte arrives for ``stall_timeout_s``, or when bytes arrive but no text for that
long. A circuit breaker counts whole failed calls and, once tripped, fails calls fast
without a request. At most ``max_concurrency`` calls are in flight; one that finds no
free slot within ``queue_wait_s`` fails with ``UpstreamModelError`` (the service then
answers extractively). A whole completion that reproduces the system prompt is refused
here (``assistant.output_guard``); streams are checked once, by the answer writer, as
every backend's are.

Reasoning models (names matching ``reasoning_models``: o1, o3, o4-mini, gpt-5...)
refuse ``max_tokens`` and any ``temperature`` but the default: they get
``max_completion_tokens`` and no temperature; other models get ``max_tokens`` and
``temperature``.

The API key travels only in the ``Authorization`` header; it is scrubbed from every
message built here and never kept in a repr. A base URL carrying credentials
(``user:pass@host``) is refused: they would be sent and could reach logs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator as PyGenerator
from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletion

from assistant.errors import BadInputError, ConfigError, UpstreamModelError, UpstreamTimeoutError
from assistant.generation.breaker import CircuitBreaker
from assistant.generation.limits import ConcurrencyLimit
from assistant.generation.openai_errors import Endpoint, safe_url
from assistant.generation.retry import RetryPolicyTransport
from assistant.output_guard import reproduces_system_prompt
from assistant.protocols import GenerationRequest
from assistant.tokens import count_tokens_estimate
from assistant.types import Generation, Usage

REASONING_MODELS = r"(^|/)(o\d|gpt-5)"  # ASSISTANT_LLM_REASONING_MODELS's default


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
        stall_timeout_s: float | None = None,
        max_retry_after_s: float = 10.0,
        max_concurrency: int = 8,
        queue_wait_s: float = 0.5,
        reasoning_models: str = REASONING_MODELS,
        breaker: CircuitBreaker | None = None,
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
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        try:
            self.reasoning = re.search(reasoning_models, model) is not None
        except re.error as exc:
            raise ConfigError(
                f"ASSISTANT_LLM_REASONING_MODELS is not a regular expression: {reasoning_models!r} ({exc})"
            ) from exc
        self.limit = ConcurrencyLimit(max_concurrency, queue_wait_s)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.stall_timeout_s = stall_timeout_s if stall_timeout_s is not None else timeout_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._where = safe_url(f"{self.base_url}/chat/completions")
        self._endpoint = Endpoint(
            self._where, api_key or None, connect_timeout_s, timeout_s, self.stall_timeout_s,
            max_retry_after_s,
        )  # fmt: skip
        # Without a key no Authorization header goes out (local servers need none).
        self._auth: dict[str, Any] = {} if api_key else {"Authorization": openai.omit}
        timeout = httpx.Timeout(
            connect=connect_timeout_s, read=timeout_s, write=timeout_s, pool=timeout_s
        )
        # In a stream the read timeout is the gap allowed between two bytes: the stall limit.
        self._stream_timeout = httpx.Timeout(
            connect=connect_timeout_s, read=self.stall_timeout_s, write=timeout_s, pool=timeout_s
        )
        self.retry = RetryPolicyTransport(max_retry_after_s)  # what we add to the SDK's retries
        self.max_retries = max_retries
        # The SDK takes an httpx client (its types name httpx2, its own fork of httpx).
        http_client: Any = httpx.Client(transport=self.retry, timeout=timeout)
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or "no-key",  # never sent: see self._auth
            timeout=cast(Any, timeout),
            max_retries=max_retries,
            http_client=http_client,
        )
        # create() with arguments built at run time (its overloads need literal ones).
        self._create: Any = self._client.chat.completions.create

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
        params = self._params(request)
        with self.limit.slot(self._where), self.breaker.guard(self._where):
            generation = self._complete(params, request)
        # Checked outside the breaker: the endpoint worked, the answer is what is refused.
        if reproduces_system_prompt(generation.text):
            raise self._leak_error()
        return generation

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Text deltas as they arrive, then one final ``Generation`` (full text, usage).

        Not checked for a leaked system prompt here: the answer writer checks every
        backend's stream (``assistant.answer_writer.write_answer``).
        """
        params = self._params(request)
        with self.limit.slot(self._where):
            with self.breaker.guard(self._where):
                generation = yield from self._stream_once(params, request)
            yield generation

    def _leak_error(self) -> UpstreamModelError:
        return UpstreamModelError(
            f"openai backend: the answer of {self.model!r} reproduced the system prompt; withheld"
        )

    # --- request building ----------------------------------------------------------------

    def _params(self, request: GenerationRequest) -> dict[str, Any]:
        """The create() arguments besides streaming: model, messages and sampling."""
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
        reasoning = self.reasoning  # they refuse max_tokens and any temperature but the default
        return {
            "model": self.model,
            "messages": request.messages,
            "max_completion_tokens": request.max_tokens if reasoning else openai.omit,
            "max_tokens": openai.omit if reasoning else request.max_tokens,
            "temperature": openai.omit if reasoning else request.temperature,
            "extra_headers": self._auth,
        }

    # --- calls -----------------------------------------------------------------------------

    def _complete(self, params: dict[str, Any], request: GenerationRequest) -> Generation:
        try:
            completion = self._create(**params)
        except openai.APIStatusError as exc:
            raise self._endpoint.error(exc, streaming=False) from None
        except openai.OpenAIError as exc:
            raise self._endpoint.error(exc, streaming=False) from exc
        except ValueError as exc:  # the body is not JSON (a proxy's HTML error page)
            raise UpstreamModelError(f"openai backend: {self._where} sent malformed JSON") from exc
        return self._generation(completion, request)

    def _stream_once(
        self, params: dict[str, Any], request: GenerationRequest
    ) -> PyGenerator[str, None, Generation]:
        sent: list[str] = []  # deltas handed to the caller
        model, usage, finish = "", None, None
        try:
            # Closed on every exit, also when the caller stops reading: the connection is freed.
            with self._create(
                **params, stream=True, stream_options={"include_usage": True},
                timeout=self._stream_timeout,
            ) as stream:  # fmt: skip
                if "text/event-stream" not in stream.response.headers.get("content-type", ""):
                    # A server that ignored "stream": its whole reply at once.
                    generation = self._generation(self._whole(stream.response), request)
                    if generation.text:
                        yield generation.text
                    return generation
                quiet_since = time.monotonic()  # last text, or the start
                for chunk in stream:
                    model = getattr(chunk, "model", None) or model
                    usage = getattr(chunk, "usage", None) or usage
                    choices = getattr(chunk, "choices", None)
                    choice = choices[0] if choices else None
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None)
                    if text:
                        sent.append(text)
                        quiet_since = time.monotonic()
                        yield text
                    elif time.monotonic() - quiet_since > self.stall_timeout_s:
                        raise UpstreamTimeoutError(
                            f"openai backend: {self._where} stream stalled: "
                            f"no text for {self.stall_timeout_s} s"
                        )
                    finish = getattr(choice, "finish_reason", None) or finish
        # One handler for the whole call: refused before it began (a status, after the SDK's
        # retries), or broken off after (a stall, a cut connection, an error event).
        except openai.OpenAIError as exc:
            error = self._endpoint.error(exc, streaming=True)
            if sent:
                error = type(error)(f"{error} (after part of the answer was streamed; not retried)")
            # Status errors and error events carry the provider's body unscrubbed: not chained.
            raise error from (exc if isinstance(exc, openai.APIConnectionError) else None)
        except ValueError as exc:  # a chunk that is not JSON
            raise UpstreamModelError(
                f"openai backend: {self._where} sent malformed JSON in its stream"
            ) from exc
        if finish is None:
            raise UpstreamModelError(
                f"openai backend: {self._where} stream ended without a finish_reason"
            )
        text = "".join(sent)
        return Generation(
            text=text,
            usage=self._usage(usage, request, text),
            model=model or self.model,
            finish_reason=finish,
        )

    # --- responses -------------------------------------------------------------------------

    def _whole(self, response: httpx.Response) -> ChatCompletion:
        try:
            data = json.loads(response.read())
        except ValueError as exc:
            raise UpstreamModelError(
                f"openai backend: {self._where} sent malformed JSON: {response.text[:120]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamModelError(f"openai backend: {self._where} sent JSON that is no object")
        # As the SDK reads responses: fields it does not know, or misses, are no error.
        return ChatCompletion.construct(**data)

    def _generation(self, completion: ChatCompletion, request: GenerationRequest) -> Generation:
        # Read leniently, as the SDK parses: a server may leave fields out.
        choices = getattr(completion, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        if message is None:
            raise UpstreamModelError(f"openai backend: {self._where} sent no choices[0].message")
        text = getattr(message, "content", None) or ""
        if not isinstance(text, str):
            raise UpstreamModelError(f"openai backend: {self._where} sent non-text content")
        return Generation(
            text=text,
            usage=self._usage(getattr(completion, "usage", None), request, text),
            model=getattr(completion, "model", None) or self.model,
            finish_reason=getattr(choices[0], "finish_reason", None) or "stop",
        )

    def _usage(self, usage: Any, request: GenerationRequest, text: str) -> Usage:
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        if isinstance(prompt, int) and isinstance(completion, int):
            return Usage(prompt_tokens=prompt, completion_tokens=completion, exact=True)
        # Some servers omit usage (notably in streams). Even a tiktoken count misses the
        # provider's per-message overhead, so the result is always marked inexact.
        joined = "\n".join(m.get("content", "") for m in request.messages)
        return Usage(
            prompt_tokens=count_tokens_estimate(joined, model=self.model)[0],
            completion_tokens=count_tokens_estimate(text, model=self.model)[0],
            exact=False,
        )
