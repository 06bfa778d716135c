"""SupportCheck: a clause of the passages must speak to the question (real MiniLM vectors)."""

from __future__ import annotations

from assistant.support import SupportCheck, clauses
from assistant.types import Chunk

FASTAPI = (
    "**Core idea.** FastAPI is a Python web framework for building HTTP APIs from type "
    "hints. Pydantic models validate request and response bodies, and the framework "
    "writes the OpenAPI schema for you."
)
FEATURES = (
    "Common techniques: ratios and differences (`debt / income`); date parts (day of "
    "week, month); cyclical encoding of periodic values (hour h → sin(2πh/24), "
    "cos(2πh/24), so 23:00 lands next to 00:00); log transforms of skewed features."
)


def chunk(cid: str, text: str) -> Chunk:
    return Chunk(
        chunk_id=cid, source="notes/x.md", title="x", section="x", text=text, url=None,
        phases=(), content_hash=cid,
    )  # fmt: skip


def test_clauses_are_sentences_and_the_parts_of_lists() -> None:
    parts = clauses(FEATURES)
    assert parts[0].startswith("Common techniques") and len(parts) == 5
    assert any(p.startswith("cyclical encoding of periodic values") for p in parts)
    plain = "Gradient descent follows the slope downhill. Momentum keeps part of the last step."
    assert clauses(plain) == [
        "Gradient descent follows the slope downhill.",
        "Momentum keeps part of the last step.",
    ]


def test_an_unrelated_question_is_not_supported_by_close_passages(embedder) -> None:  # type: ignore[no-untyped-def]
    check = SupportCheck(embedder, 0.25)
    passages = [chunk("a", FASTAPI), chunk("b", FEATURES)]
    pizza = embedder.embed_query("What is the capital of Mongolia's best pizza place?")
    assert check.best(pizza, passages) < 0.22 and not check.supported(pizza, passages)
    framework = embedder.embed_query("What does FastAPI use type hints for?")
    assert check.best(framework, passages) > 0.4 and check.supported(framework, passages)
    # The listed part, not its whole sentence, is what answers this one.
    hour = embedder.embed_query("How should I encode the hour of day so 23:00 is near midnight?")
    whole = float(embedder.embed_documents([FEATURES])[0] @ hour)
    assert check.best(hour, [chunk("b", FEATURES)]) > whole + 0.05
    assert SupportCheck(embedder, 0).supported(pizza, passages)  # 0: the check is off
    assert not check.supported(framework, [])
