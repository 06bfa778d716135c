"""Follow-up questions become standalone questions before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence

_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|that|this|these|those|they|them|their|there|he|she|one|ones|same|"
    r"above|previous|former|latter)\b|^(and|also|but|so|what about|how about|why|then)\b",
    re.IGNORECASE,
)


def looks_like_follow_up(question: str) -> bool:
    """Pronouns or a bare connective that only make sense with the previous turn."""
    return bool(_FOLLOW_UP.search(question.strip())) or len(question.split()) <= 3


def condense_question(question: str, history: Sequence[dict[str, str]]) -> str:
    """The question to retrieve for: alone when it stands alone, else with the last user turn.

    Retrieval embeds the result, so prefixing the topic of the previous question is what
    carries "it" in "when should I use it?" to the right passages. Deterministic on purpose:
    equal conversations give equal cache keys.
    """
    question = question.strip()
    previous = [
        m["content"].strip() for m in history if m.get("role") == "user" and m.get("content")
    ]
    if not previous or not looks_like_follow_up(question):
        return question
    return f"{previous[-1]} {question}"
