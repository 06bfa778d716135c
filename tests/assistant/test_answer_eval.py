"""Answer scores and the answerer comparison, with the extractive answerer on real passages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.answer_eval import (
    AnswerCase,
    evaluate_answerers,
    load_cases,
    markdown_table,
)
from assistant.answer_scores import (
    citations_valid,
    faithfulness,
    is_refusal,
    rouge_l,
    token_f1,
)
from assistant.errors import BadInputError
from assistant.protocols import GenerationRequest
from assistant.types import Generation, Usage
from finetune.data import make_chunk

PASSAGES = [
    make_chunk(
        "Ridge regression adds an L2 penalty that shrinks the coefficients.", section="Ridge"
    ),
    make_chunk(
        "Lasso uses an L1 penalty that sets some coefficients exactly to zero.", section="Lasso"
    ),
]


def test_correctness_scores() -> None:
    assert token_f1("Ridge adds an L2 penalty [1].", "Ridge adds an L2 penalty.") == 1.0
    assert token_f1("nothing shared", "Ridge adds a penalty") == 0.0
    assert 0 < rouge_l("Ridge adds a penalty on weights", "Ridge adds an L2 penalty") < 1


def test_faithfulness_counts_sentences_supported_by_what_they_cite() -> None:
    good = "Ridge adds an L2 penalty that shrinks the coefficients [1]."
    assert faithfulness(good, [p.text for p in PASSAGES]) == 1.0
    wrong_passage = "Ridge adds an L2 penalty that shrinks the coefficients [2]."
    assert faithfulness(wrong_passage, [p.text for p in PASSAGES]) == 0.0
    uncited = good + " Ridge was invented on the moon by astronauts."
    assert faithfulness(uncited, [p.text for p in PASSAGES]) == 0.5
    assert faithfulness("Ridge shrinks coefficients [7].", [p.text for p in PASSAGES]) == 0.0


def test_citations_and_refusals() -> None:
    assert citations_valid("A [1][2].", 2) and not citations_valid("A [3].", 2)
    assert not citations_valid("No citation at all.", 2)
    refusal = "The study material does not cover this question."
    assert is_refusal(refusal) and citations_valid(refusal, 2)
    assert not is_refusal("Ridge covers correlated features [1].")


class EchoGenerator:
    """A generator (the real Protocol) that answers with the first passage, cited."""

    backend = "extractive"
    model = "echo"

    def generate(self, request: GenerationRequest) -> Generation:
        *_, final = self.stream(request)
        assert isinstance(final, Generation)
        return final

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        if "moon" in request.question:
            text = "The study material does not cover this question."
        else:
            text = f"{request.passages[0].text} [1]."
        yield text
        yield Generation(text, Usage(10, len(text.split())), "echo")


def test_evaluate_answerers_scores_every_answerer(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "What is Ridge?", "reference": PASSAGES[0].text, "in_scope": True},
        {
            "id": "b",
            "question": "Who lives on the moon?",
            "reference": "not covered",
            "in_scope": False,
        },
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    cases = load_cases(path)
    assert cases[1] == AnswerCase("b", "Who lives on the moon?", "not covered", False)
    # No relevant passage: the refusal without a model call, as the service answers.
    result = evaluate_answerers(
        {"echo": EchoGenerator}, cases, lambda q: [] if "moon" in q else PASSAGES
    )
    s = result["answerers"]["echo"]
    assert s["f1"] == 1.0 and s["faithfulness"] == 1.0 and s["citation_validity"] == 1.0
    assert s["refusal_rate_out_of_scope"] == 1.0 and s["false_refusal_rate"] == 0.0
    assert s["questions"] == 2 and s["errors"] == 0
    table = markdown_table(result)
    assert table.splitlines()[0].startswith("| answerer | token F1") and "| echo |" in table
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no reference"}\n')
    with pytest.raises(BadInputError, match="line 1"):
        load_cases(bad)
