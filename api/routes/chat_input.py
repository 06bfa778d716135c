"""An OpenAI chat request's messages as the service reads them: question, history, instructions.

``content`` is a string or a list of text parts (``[{"type": "text", "text": ...}]``, as
chat UIs send it); parts are joined by newlines. Other parts (images, audio, files) are
refused with a 400 naming the part: this service answers text from text. System (and
``developer``) messages become instructions that the prompt fences after its own rules
(``assistant.prompts.system_prompt``), up to ``ASSISTANT_MAX_INSTRUCTION_CHARS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.routes.chat_errors import InvalidRequestError
from api.schemas import MAX_CONTENT_CHARS, ChatCompletionMessageParam


@dataclass(frozen=True, slots=True)
class ChatInput:
    """What the messages of one request say."""

    question: str  # the last message, a user's
    question_param: str  # where it was: messages[i].content
    history: list[dict[str, str]]  # earlier user/assistant turns, oldest first
    instructions: str | None  # the system messages' text, joined; None when there is none


def text_of(content: Any, param: str) -> str:
    """``content`` (None, a string or a list of text parts) as one string."""
    if content is None:
        return ""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            where = f"{param}[{i}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text":
                got = repr(kind) if isinstance(part, dict) else type(part).__name__
                raise InvalidRequestError(
                    f"{where}: only text content parts ({{'type': 'text', 'text': ...}}) are "
                    f"supported, got {got}",
                    where,
                    "unsupported_value",
                )
            if not isinstance(part.get("text"), str):
                raise InvalidRequestError(
                    f"{where}.text: must be a string", f"{where}.text", "invalid_type"
                )
            texts.append(part["text"])
        text = "\n".join(texts)
    else:
        raise InvalidRequestError(
            f"{param}: expected a string or a list of text parts, got {type(content).__name__}",
            param,
            "invalid_type",
        )
    if len(text) > MAX_CONTENT_CHARS:
        raise InvalidRequestError(
            f"{param}: {len(text)} characters, the limit is {MAX_CONTENT_CHARS}", param
        )
    return text


def read_messages(
    messages: Sequence[ChatCompletionMessageParam], max_instruction_chars: int
) -> ChatInput:
    """Question, history and instructions, or ``InvalidRequestError`` naming the bad message.

    The question itself is checked by the service's own rules (``StudyAssistant.validate``).
    """
    turns: list[tuple[str, dict[str, str]]] = []  # (param, turn)
    instructions: list[str] = []
    used = 0
    for i, m in enumerate(messages):
        param = f"messages[{i}].content"
        text = text_of(m.content, param)
        if m.role in ("system", "developer"):
            if not text.strip():
                continue
            used += len(text)
            if used > max_instruction_chars:
                raise InvalidRequestError(
                    f"{param}: system messages may hold at most {max_instruction_chars} "
                    f"characters in all here (ASSISTANT_MAX_INSTRUCTION_CHARS), got {used}",
                    param,
                )
            instructions.append(text.strip())
        else:
            turns.append((param, {"role": m.role, "content": text}))
    if not turns or turns[-1][1]["role"] != "user":
        raise InvalidRequestError(
            "messages must end with a user message (the question)", "messages"
        )
    param, last = turns[-1]
    # An empty or over-long question is refused by the service's check (the route names it).
    return ChatInput(
        question=last["content"],
        question_param=param,
        history=[turn for _, turn in turns[:-1]],
        instructions="\n\n".join(instructions) or None,
    )
