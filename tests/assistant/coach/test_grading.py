"""Grading exactly (mcq, cloze) and by coverage + similarity (short), against hand labels."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.coach import AnswerGrader
from assistant.coach.grading import SHORT_THRESHOLD, normalize

LABELS = Path(__file__).parent / "data" / "short_answers.jsonl"


def test_mcq_accepts_the_option_text_number_or_letter(embedder, bank_questions) -> None:  # type: ignore[no-untyped-def]
    grader = AnswerGrader(embedder)
    q = next(q for q in bank_questions if q.type == "mcq")
    i = q.options.index(q.expected)
    for answer in (q.expected, q.expected.upper() + "!", str(i + 1), "abcd"[i]):
        assert grader.grade(q, answer).correct, answer
    wrong = next(o for o in q.options if o != q.expected)
    assert not grader.grade(q, wrong).correct
    assert not grader.grade(q, "").correct


def test_cloze_is_case_punctuation_and_plural_tolerant(embedder, bank_questions) -> None:  # type: ignore[no-untyped-def]
    grader = AnswerGrader(embedder)
    q = next(q for q in bank_questions if q.type == "cloze")
    assert grader.grade(q, f"  {q.expected.lower()}. ").correct
    assert grader.grade(q, q.expected + "s").correct
    assert not grader.grade(q, "something else entirely").correct


def test_cloze_accepts_the_expansion_given_in_the_passage(embedder, bank_questions) -> None:  # type: ignore[no-untyped-def]
    grader = AnswerGrader(embedder)
    with_synonym = [q for q in bank_questions if q.type == "cloze" and len(q.accepted) > 1]
    assert with_synonym, "some cloze terms have an expansion in their sentence"
    q = with_synonym[0]
    assert grader.grade(q, q.accepted[1]).correct


def test_normalize() -> None:
    assert normalize("  The  L1-penalty! ") == "l1 penalty"


def test_short_answers_agree_with_hand_labels(embedder, bank_questions) -> None:  # type: ignore[no-untyped-def]
    """The stated threshold reproduces most hand labels (precision/recall of 'correct')."""
    grader = AnswerGrader(embedder)
    bank = {q.id: q for q in bank_questions}
    rows = [json.loads(x) for x in LABELS.read_text().splitlines() if x.strip()]
    assert len(rows) >= 50
    assert all(r["question_id"] in bank for r in rows), "labelled questions left the bank"
    pairs = [
        (grader.grade(bank[r["question_id"]], r["answer"]).correct, r["correct"]) for r in rows
    ]
    tp = sum(p and g for p, g in pairs)
    fp = sum(p and not g for p, g in pairs)
    fn = sum(g and not p for p, g in pairs)
    assert tp / (tp + fp) >= 0.9, (tp, fp, fn, SHORT_THRESHOLD)
    assert tp / (tp + fn) >= 0.7, (tp, fp, fn, SHORT_THRESHOLD)
