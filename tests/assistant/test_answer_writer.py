"""write_answer: the model's stream, or the extractive fallback (marked) when it fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.answer_writer import FALLBACK_MARKER, Sampling, passage_budget, write_answer
from assistant.errors import BadInputError, UpstreamModelError
from assistant.protocols import GenerationRequest
from assistant.types import Delta, Generation, Usage

REQUEST = GenerationRequest(question="q", passages=[], messages=[])


class ScriptedGenerator:
    """A Generator that streams ``deltas``, then finishes or fails."""

    def __init__(self, backend: str, deltas: list[str], fail: bool = False) -> None:
        self.backend = backend
        self.model = f"{backend}-model"
        self.deltas = deltas
        self.fail = fail

    def generate(self, request: GenerationRequest) -> Generation:
        return Generation("Fallback text [1].", Usage(0, 0, True), model=self.model)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        yield from self.deltas
        if self.fail:
            raise UpstreamModelError("endpoint down")
        yield Generation("".join(self.deltas), Usage(3, 2, True), model="served-name")


def run(gen: Any) -> tuple[list[Delta], Any]:
    events: list[Delta] = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


FALLBACK = ScriptedGenerator("extractive", [])


def test_model_stream_passes_through() -> None:
    events, written = run(
        write_answer(ScriptedGenerator("openai", ["A ", "[1]."]), FALLBACK, REQUEST)
    )
    assert [e.text for e in events] == ["A ", "[1]."]
    assert (written.backend, written.model, written.fell_back) == ("openai", "served-name", False)


@pytest.mark.parametrize("deltas", [[], ["partial "]])
def test_failure_falls_back_with_a_marker_after_partial_text(deltas: list[str]) -> None:
    broken = ScriptedGenerator("openai", deltas, fail=True)
    events, written = run(write_answer(broken, FALLBACK, REQUEST))
    assert written.fell_back and written.backend == "extractive"
    text = "".join(e.text for e in events)
    if deltas:
        assert text == f"partial \n\n{FALLBACK_MARKER}\n\nFallback text [1]."
        assert written.generation.text == f"{FALLBACK_MARKER} Fallback text [1]."
    else:
        assert text == written.generation.text == "Fallback text [1]."


def test_the_fallback_itself_failing_raises() -> None:
    broken = ScriptedGenerator("extractive", [], fail=True)
    with pytest.raises(UpstreamModelError):
        run(write_answer(broken, broken, REQUEST))


class Window:
    def __init__(self, context_tokens: int | None) -> None:
        self.context_tokens = context_tokens

    def count_tokens(self, text: str) -> int:
        return len(text)


def test_passage_budget_respects_a_model_window() -> None:
    words = lambda t: len(t.split())  # noqa: E731
    assert passage_budget(1500, 512, None, words) == (1500, words)
    budget, count = passage_budget(1500, 512, Window(2048), words)
    assert budget == 2048 - 512 - 384 and count("abc") == 3
    assert passage_budget(1500, 512, Window(600), words)[0] == 64
    assert passage_budget(1500, 512, Window(None), words)[0] == 1500


def test_a_clients_sampling_is_bounded_by_the_servers() -> None:
    server = Sampling(512, 0.2)
    assert Sampling.of(None, None, None, server=server) == server
    assert Sampling.of(40, 0.9, "Be brief.", server=server) == Sampling(40, 0.9, "Be brief.")
    assert Sampling.of(100_000, 0.0, "", server=server) == Sampling(512, 0.0)  # capped
    for bad, named in [((0, None), "max_tokens must be >= 1, got 0"),
                       ((None, 2.5), "temperature must be between 0 and 2, got 2.5")]:  # fmt: skip
        with pytest.raises(BadInputError, match=re.escape(named)):
            Sampling.of(*bad, None, server=server)
