"""Writing the answer text: the configured generator, and the extractive fallback when it fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Generator as Gen
from dataclasses import dataclass

from assistant.errors import BadInputError, UpstreamModelError
from assistant.metrics import upstream_failed
from assistant.output_guard import guard_stream
from assistant.protocols import GenerationRequest, Generator, TokenWindow
from assistant.types import Delta, Generation

logger = logging.getLogger(__name__)

# Shown where a model's stream broke off and the extractive answer takes over.
FALLBACK_MARKER = "[The model failed mid-answer; extractive answer follows.]"
# Prompt tokens besides the passages: system prompt, history and question.
PROMPT_OVERHEAD_TOKENS = 384


@dataclass(slots=True)
class Written:
    """Generated text with who wrote it."""

    generation: Generation
    backend: str
    model: str
    fell_back: bool = False  # the configured model failed; the fallback wrote the text


@dataclass(frozen=True, slots=True)
class Sampling:
    """What a client may say about generation: completion limit, temperature, instructions."""

    max_tokens: int
    temperature: float
    instructions: str | None = None  # a chat client's system messages (prompts.system_prompt)

    @classmethod
    def of(
        cls,
        max_tokens: int | None,
        temperature: float | None,
        instructions: str | None,
        *,
        server: Sampling,
    ) -> Sampling:
        """The client's values where given, the completion limit bounded by the server's."""
        if max_tokens is not None and max_tokens < 1:
            raise BadInputError(f"max_tokens must be >= 1, got {max_tokens}")
        if temperature is not None and not 0 <= temperature <= 2:
            raise BadInputError(f"temperature must be between 0 and 2, got {temperature}")
        return cls(
            min(max_tokens or server.max_tokens, server.max_tokens),
            server.temperature if temperature is None else temperature,
            instructions or None,
        )


def passage_budget(
    context_tokens: int,
    max_tokens: int,
    window: TokenWindow | None,
    count_tokens: Callable[[str], int],
) -> tuple[int, Callable[[str], int]]:
    """Token budget for passages, in the generator's own tokens when it has a tokenizer.

    A local model's context (max positions) bounds the prompt: leave room for the
    completion and for the system prompt, history and question.
    """
    if window is None:
        return context_tokens, count_tokens
    budget = context_tokens
    if window.context_tokens:
        budget = max(64, min(budget, window.context_tokens - max_tokens - PROMPT_OVERHEAD_TOKENS))
    return budget, window.count_tokens


def _leaked() -> UpstreamModelError:
    return UpstreamModelError("the model's answer reproduced the system prompt; refused")


def write_answer(
    generator: Generator, fallback: Generator, request: GenerationRequest
) -> Gen[Delta, None, Written]:
    """Stream from the generator; on upstream failure answer with the fallback (degraded)."""
    sent = False
    stream = generator.stream(request)
    if generator is not fallback:
        # Every model's output: one that repeats the system prompt is refused (extractive).
        stream = guard_stream(stream, _leaked)
    try:
        final: Generation | None = None
        for item in stream:
            if isinstance(item, Generation):
                final = item
            else:
                sent = True
                yield Delta(item)
        if final is None:
            raise UpstreamModelError("the model stream ended without a final message")
        return Written(final, generator.backend, final.model or generator.model)
    except UpstreamModelError as exc:
        if generator is fallback:
            raise
        upstream_failed(generator.backend, exc)
        logger.warning("model backend failed, answering extractively: %s", exc)
        gen = fallback.generate(request)
        if sent:
            # A client that already saw partial text gets a marker before the fallback text.
            yield Delta(f"\n\n{FALLBACK_MARKER}\n\n{gen.text}")
            gen.text = f"{FALLBACK_MARKER} {gen.text}"
        else:
            yield Delta(gen.text)
        return Written(gen, fallback.backend, gen.model or fallback.model, fell_back=True)
