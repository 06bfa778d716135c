"""Q&A pair files, corpus pair building, and rendering pairs in the serving prompt format."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli.finetune import finetune
from assistant.errors import BadInputError
from assistant.generation.local import FALLBACK_CHAT_TEMPLATE, encode_text, render_chat
from assistant.prompts import build_messages
from assistant.types import Chunk
from finetune.corpus_pairs import attach_context, build_pairs, note_drafts
from finetune.data import (
    CURATED_PAIRS,
    QAPair,
    dedupe,
    load_pairs,
    make_chunk,
    split_pairs,
    write_pairs,
)
from finetune.examples import IGNORE_INDEX, encode_pairs, prompt_and_completion
from finetune.roadmap_pairs import roadmap_drafts
from tests.finetune.conftest import ROADMAP

NOTE = """# Phase 5: Core Machine Learning Algorithms

Intro paragraph that is not a topic.

## Ridge

**Core idea.** Ridge regression is linear regression with an L2 penalty on the
coefficients. scikit-learn minimizes:

```
min_w  ||y - Xw||^2 + alpha ||w||^2
```

**When to use it.** When features are correlated.

**Common pitfall.** Not scaling features first.

**Official docs:** https://scikit-learn.org/
"""


def _write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _pair(q: str, a: str = "An answer [1].") -> QAPair:
    return QAPair(q, a, [make_chunk("A passage.", source="notes/x.md")], [1])


class WordOverlapRetriever:
    """A real retriever over a fixed list of chunks: ranks by shared words (no index needed)."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks

    def __call__(self, question: str, k: int) -> list[Chunk]:
        words = set(question.lower().split())
        return sorted(self.chunks, key=lambda c: -len(words & set(c.text.lower().split())))[:k]


# ----------------------------------------------------------------------------- loading
def test_curated_pairs_load_and_cite_their_passages() -> None:
    pairs = load_pairs(CURATED_PAIRS)
    assert len(pairs) >= 15
    assert all(p.origin == "curated" and p.context for p in pairs)
    assert any(p.citations == [1, 2] for p in pairs)
    refusals = [p for p in pairs if not p.citations]
    assert refusals and all("does not cover" in p.answer for p in refusals)


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    good = {"question": "What is Ridge?", "answer": "L2 [1].", "context": ["Ridge is L2."]}
    path = _write(
        tmp_path / "bad.jsonl",
        [
            good,
            "{not json",
            {"question": "  ", "answer": "x"},
            {"questoin": "typo", "answer": "x"},
            "",  # blank lines are skipped but still counted
            {"question": "q", "answer": "see [2]", "context": ["only one"]},
            {"question": "q", "answer": "a", "citations": "1"},
            {"question": "q", "answer": "a", "context": [{"source": "x.md"}]},
            {"question": "q", "answer": "a [1]"},
            ["not", "an", "object"],
            {"question": "q", "answer": 3},
        ],
    )
    with pytest.raises(BadInputError) as err:
        load_pairs(path)
    msg = str(err.value)
    assert "9 invalid row(s)" in msg
    for expected in (
        "line 2: not valid JSON",
        "line 3: 'question' is empty",
        "line 4: unknown field 'questoin'",
        "line 6: the answer cites [2] but the row has 1 context passages",
        "line 7: 'citations' must be a list of passage numbers, got '1'",
        "line 8: context passage 1: 'text' must be a string, got NoneType",
        "line 9: the answer cites [1] but the row has no context passages",
        "line 10: a row must be a JSON object, got list",
        "line 11: 'answer' must be a string, got int",
    ):
        assert expected in msg
    assert "line 1:" not in msg


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="holds no Q&A pairs"):
        load_pairs(_write(tmp_path / "empty.jsonl", ["", "   "]))
    with pytest.raises(BadInputError, match=r"no dataset at .*nope\.jsonl"):
        load_pairs(tmp_path / "nope.jsonl")


def test_rows_round_trip_through_a_file(tmp_path: Path) -> None:
    pairs = load_pairs(CURATED_PAIRS)
    path = tmp_path / "out" / "pairs.jsonl"
    assert write_pairs(path, pairs) == len(pairs)
    again = load_pairs(path)
    assert [p.to_json() for p in again] == [p.to_json() for p in pairs]
    assert again[0].messages() == build_messages(pairs[0].question, pairs[0].context)


def test_duplicates_are_dropped_first_wins() -> None:
    pairs = [_pair("What is Ridge?", "first [1]."), _pair("what is  ridge"), _pair("Lasso?")]
    kept, dropped = dedupe(pairs)
    assert dropped == 1
    assert [p.question for p in kept] == ["What is Ridge?", "Lasso?"]
    assert kept[0].answer == "first [1]."


def test_split_is_deterministic_and_order_free() -> None:
    pairs = [_pair(f"Question number {i}?") for i in range(50)]
    train, evals = split_pairs(pairs, 0.2, seed=7)
    assert len(evals) == 10 and len(train) == 40
    assert {p.question for p in train}.isdisjoint(p.question for p in evals)
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    assert {p.question for p in split_pairs(shuffled, 0.2, seed=7)[1]} == {
        p.question for p in evals
    }
    other = {p.question for p in split_pairs(pairs, 0.2, seed=8)[1]}
    assert other != {p.question for p in evals}
    assert len(split_pairs(pairs[:2], 0.01, seed=0)[1]) == 1  # at least one eval pair
    with pytest.raises(BadInputError, match="got 1"):
        split_pairs(pairs[:1], 0.2, seed=0)


# ----------------------------------------------------------------------------- corpus pairs
def test_roadmap_headings_and_bullets_become_pairs() -> None:
    drafts = {d.question: d for d in roadmap_drafts(ROADMAP)}
    ridge = drafts["Which phase of the roadmap covers Ridge?"]
    assert "Phase 5: Core Machine Learning Algorithms" in ridge.answer
    assert "Regression > Regularization" in ridge.answer
    assert "- Ridge" in ridge.gold.text and ridge.gold.source == "roadmap.md"
    goal = drafts["What is the goal of Phase 1 (Python Fundamentals)?"]
    assert goal.answer == (
        "The goal of Phase 1 (Python Fundamentals) is to become fully comfortable "
        "writing Python code {cite}."
    )
    assert (
        "1–2 months" in drafts["How long should I spend on Phase 1 (Python Fundamentals)?"].answer
    )
    assert "software engineer" in drafts["What is an ML Engineer?"].answer
    listed = drafts["What does Phase 5 (Core Machine Learning Algorithms) cover under Regression?"]
    assert "Regularization (Ridge, Lasso, Elastic Net)" in listed.answer
    assert len(drafts) > 100


def test_note_sections_become_three_questions() -> None:
    drafts = note_drafts(NOTE, "notes/phase-5-core-ml.md")
    assert [d.question for d in drafts] == [
        "What is Ridge?",
        "When should I use Ridge?",
        "What is a common pitfall with Ridge?",
    ]
    core = drafts[0]
    assert core.answer.startswith("Ridge regression is linear regression with an L2 penalty")
    assert core.answer.endswith("scikit-learn minimizes {cite}.")  # the code block is not text
    assert core.gold.section == "Ridge" and core.gold.title.startswith("Phase 5")
    assert drafts[2].answer == "Not scaling features first {cite}."


def test_pairs_cite_the_retrieved_passage_that_supports_them() -> None:
    drafts = note_drafts(NOTE, "notes/phase-5-core-ml.md")
    distractor = make_chunk("Lasso uses an L1 penalty when features are many.", source="n.md")
    supporting = make_chunk(
        "Ridge\nNot scaling features first. The penalty depends on units.",
        source="notes/phase-5-core-ml.md",
        title="Phase 5: Core Machine Learning Algorithms",
        section="Ridge",
    )
    retrieve = WordOverlapRetriever([distractor, supporting])
    pairs, inserted = attach_context([drafts[2]], retrieve, k=2)
    assert [c.chunk_id for c in pairs[0].context] == [distractor.chunk_id, supporting.chunk_id]
    assert pairs[0].answer == "Not scaling features first [2]." and pairs[0].citations == [2]
    assert inserted == 0
    # Retrieval misses the source: the gold passage goes first, and k still holds.
    pairs, inserted = attach_context([drafts[0]], WordOverlapRetriever([distractor] * 3), k=2)
    assert pairs[0].context[0] == drafts[0].gold and len(pairs[0].context) == 2
    assert pairs[0].answer.endswith("scikit-learn minimizes [1].") and inserted == 1
    pairs, inserted = attach_context([drafts[0]], None, k=3)
    assert pairs[0].context == [drafts[0].gold] and inserted == 0


def test_build_pairs_merges_curated_first(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "notes").mkdir(parents=True)
    (corpus / "roadmap.md").write_text(ROADMAP)
    (corpus / "notes" / "phase-5.md").write_text(NOTE)
    curated = _write(
        tmp_path / "curated.jsonl",
        [{"question": "What is Ridge?", "answer": "Curated [1].", "context": ["Ridge."]}],
    )
    pairs, report = build_pairs(corpus, retrieve=None, k=3, curated=curated)
    by_q = {p.question: p for p in pairs}
    assert by_q["What is Ridge?"].answer == "Curated [1]."
    assert report.duplicates_dropped >= 1
    assert report.by_origin["curated"] == 1 and report.by_origin["notes"] == 2
    assert report.by_origin["roadmap"] > 100 and report.total == len(pairs)
    with pytest.raises(BadInputError, match=r"no roadmap\.md or notes"):
        build_pairs(tmp_path / "empty")


def test_cli_data_writes_pairs_and_a_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "notes").mkdir(parents=True)
    (corpus / "roadmap.md").write_text(ROADMAP)
    (corpus / "notes" / "phase-5.md").write_text(NOTE)
    out = tmp_path / "pairs.jsonl"
    runner = CliRunner()
    res = runner.invoke(
        finetune, ["data", "--corpus", str(corpus), "--out", str(out), "--no-retrieval"]
    )
    assert res.exit_code == 0, res.output
    assert f"pairs to {out}" in res.output and "duplicates dropped" in res.output
    pairs = load_pairs(out)
    assert {p.origin for p in pairs} == {"curated", "roadmap", "notes"}
    res = runner.invoke(
        finetune,
        ["data", "--corpus", str(corpus), "--out", str(out), "--index-dir", str(tmp_path / "ix")],
    )
    assert res.exit_code == 1 and "--no-retrieval" in res.stderr
    res = runner.invoke(finetune, ["data", "--out", str(out), "--k", "0", "--no-retrieval"])
    assert res.exit_code == 2 and "--k must be > 0, got 0" in res.stderr


# ----------------------------------------------------------------------------- prompt format
def test_training_text_is_the_serving_prompt_plus_the_answer(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    pair = load_pairs(CURATED_PAIRS)[0]
    prompt, completion = prompt_and_completion(tok, pair)
    assert prompt == render_chat(tok, build_messages(pair.question, pair.context), True)
    assert completion == pair.answer + "<|im_end|>"
    (ex,) = encode_pairs(tok, [pair], max_seq_len=1024)
    n_prompt = len(encode_text(tok, prompt))
    assert ex.prompt_tokens == n_prompt
    assert ex.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert ex.labels[n_prompt:] == ex.input_ids[n_prompt:] == encode_text(tok, completion)


def test_fallback_template_when_the_tokenizer_has_none(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = None
    pair = _pair("What is Ridge?")
    prompt, completion = prompt_and_completion(tok, pair)
    assert prompt.startswith("<|system|>\n") and prompt.endswith("<|assistant|>\n")
    assert completion == pair.answer + "<|im_end|>"
    assert FALLBACK_CHAT_TEMPLATE


def test_citation_markers_are_told_from_indexing() -> None:
    from finetune.data import cited_numbers

    answer = "`grid[0][0] = 1` changes rows [1]; x[2], f(x)[4] and grid[0][5] do not cite; [2][3]."
    assert cited_numbers(answer) == [1, 2, 3]
