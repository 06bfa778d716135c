"""Follow-up questions rewritten into standalone ones by the model, within a time bound.

    standalone = rewrite_follow_up(question, history, generator)   # the one-line service hook

With a generative backend the model reads the last turns and writes the question out in
full ("when should I use it?" -> "When should I use Ridge regression?"). An extractive
backend, a question that already stands alone, a slow model, a failing model or an
answer that does not look like a question all fall back to ``condense_question``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from assistant.conversation import condense_question, looks_like_follow_up
from assistant.errors import AssistantError
from assistant.protocols import GenerationRequest, Generator
from assistant.types import Generation

logger = logging.getLogger(__name__)

REWRITE_SYSTEM = (
    "Rewrite the last question of the conversation so that it can be understood without "
    "the conversation: replace pronouns such as 'it' or 'that' with what they refer to. "
    "Answer with the rewritten question only, on one line."
)
# One worked example: small models follow a pattern better than an instruction.
EXAMPLE = [
    {
        "role": "user",
        "content": "Conversation:\nUser: What is Ridge regression?\n"
        "Follow-up question: When should I use it?",
    },
    {"role": "assistant", "content": "When should I use Ridge regression?"},
]
TURNS = 4  # earlier messages shown to the model
MAX_WORDS = 40  # a rewrite longer than this is not a question any more
_CITE = re.compile(r"\[\d+\]")


def rewrite_messages(question: str, history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The chat messages that ask the model for the standalone question."""
    lines = []
    for m in list(history)[-TURNS:]:
        who = "User" if m.get("role") == "user" else "Assistant"
        content = _CITE.sub("", " ".join(str(m.get("content", "")).split()))
        lines.append(f"{who}: {content[:400]}")
    user = "Conversation:\n" + "\n".join(lines) + f"\nFollow-up question: {question.strip()}"
    return [{"role": "system", "content": REWRITE_SYSTEM}, *EXAMPLE, {"role": "user", "content": user}]  # fmt: skip


def clean_rewrite(text: str) -> str | None:
    """The first line of the model's text, if it looks like a question; else None."""
    line = text.strip().splitlines()[0].strip().strip('"') if text.strip() else ""
    line = line.removeprefix("Rewritten question:").removeprefix("Question:").strip()
    if not line or _CITE.search(line) or len(line.split()) > MAX_WORDS or "?" not in line:
        return None
    return line[: line.index("?") + 1]


def rewrite_follow_up(
    question: str,
    history: Sequence[dict[str, str]],
    generator: Generator,
    *,
    time_budget_s: float = 3.0,
    max_tokens: int = 48,
) -> str:
    """A standalone form of ``question``; ``condense_question`` when the model cannot help."""
    fallback = condense_question(question, history)
    has_user_turn = any(m.get("role") == "user" for m in history)
    if not has_user_turn or not looks_like_follow_up(question) or generator.backend == "extractive":
        return fallback
    request = GenerationRequest(
        question=question,
        passages=[],
        messages=rewrite_messages(question, history),
        max_tokens=max_tokens,
        temperature=0.0,
    )
    deadline = time.monotonic() + time_budget_s
    text = ""
    stream = generator.stream(request)
    try:
        for item in stream:
            if isinstance(item, Generation):
                text = item.text
            if time.monotonic() > deadline:
                logger.info(
                    "follow-up rewrite over its %.1fs budget: using the rule", time_budget_s
                )
                return fallback
    except AssistantError as exc:
        logger.info("follow-up rewrite failed (%s): using the rule", exc)
        return fallback
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops a local model mid-generation
    return clean_rewrite(text) or fallback
