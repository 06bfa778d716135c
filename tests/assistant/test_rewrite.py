"""Follow-up rewriting: the model's standalone question, or the rule when it cannot help."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.conversation import condense_question
from assistant.errors import UpstreamModelError
from assistant.generation.rewrite import clean_rewrite, rewrite_follow_up, rewrite_messages
from assistant.protocols import GenerationRequest
from assistant.types import Generation, Usage

HISTORY = [
    {"role": "user", "content": "What is Ridge regression?"},
    {"role": "assistant", "content": "Ridge adds an L2 penalty [1]."},
]


class ScriptedGenerator:
    """A generative backend (the real Protocol) that writes a fixed text, or fails."""

    backend = "local"
    model = "scripted"

    def __init__(self, text: str, fail: bool = False) -> None:
        self.text, self.fail, self.requests = text, fail, []  # type: ignore[var-annotated]

    def generate(self, request: GenerationRequest) -> Generation:
        return Generation(self.text, Usage(1, 1), self.model)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        self.requests.append(request)
        if self.fail:
            raise UpstreamModelError("down")
        yield self.text
        yield Generation(self.text, Usage(1, 1), self.model)


def test_the_model_rewrites_a_follow_up() -> None:
    gen = ScriptedGenerator("When should I use Ridge regression?\nextra line")
    out = rewrite_follow_up("When should I use it?", HISTORY, gen)
    assert out == "When should I use Ridge regression?"
    messages = gen.requests[0].messages
    assert messages[-1]["content"].endswith("Follow-up question: When should I use it?")
    assert "[1]" not in messages[-1]["content"]  # citations are not part of the conversation


def test_the_rule_is_the_fallback() -> None:
    rule = condense_question("When should I use it?", HISTORY)
    assert rewrite_follow_up("When should I use it?", HISTORY, ScriptedGenerator("x", fail=True)) == rule  # fmt: skip
    assert rewrite_follow_up("When should I use it?", HISTORY, ScriptedGenerator("Ridge [1].")) == rule  # fmt: skip
    extractive = ScriptedGenerator("When should I use Ridge regression?")
    extractive.backend = "extractive"
    assert rewrite_follow_up("When should I use it?", HISTORY, extractive) == rule
    standalone = "What is Lasso regression in machine learning?"
    assert rewrite_follow_up(standalone, HISTORY, ScriptedGenerator("x?")) == standalone
    assert rewrite_follow_up("When should I use it?", [], ScriptedGenerator("x?")) == "When should I use it?"  # fmt: skip


def test_clean_rewrite_and_messages() -> None:
    assert clean_rewrite('"Question: What is Ridge?"') == "What is Ridge?"
    assert clean_rewrite("") is None and clean_rewrite("Ridge is a model.") is None
    assert rewrite_messages("And Lasso?", HISTORY)[0]["role"] == "system"
