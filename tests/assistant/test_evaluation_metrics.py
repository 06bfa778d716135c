"""Retrieval metrics: hand-computed cases, the same numbers as ranx called directly.

recall@k counts every relevant chunk of the index (not just "any in the top k", which is
hit_rate@k), and nDCG's ideal ranking holds every relevant chunk, retrieved or not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ranx import Qrels, Run, evaluate

from assistant.evaluation import (
    Question,
    Ranking,
    RelevanceJudge,
    per_question_metrics,
    retrieval_metrics,
)
from assistant.types import Chunk


def dcg(ranks: list[int]) -> float:
    """Binary gains at these 1-based ranks."""
    return sum(1 / math.log2(r + 1) for r in ranks)


# (ranking, hand-computed recall@5, hit_rate@5, MRR, nDCG@10)
CASES = [
    # 3 relevant, 2 of them in the top 5 (ranks 1 and 3), the third at rank 6.
    (Ranking(("a", "x", "b", "y", "z", "c", "w"), frozenset("abc")),
     2 / 3, 1.0, 1.0, dcg([1, 3, 6]) / dcg([1, 2, 3])),
    # 1 relevant at rank 3.
    (Ranking(("x", "y", "p"), frozenset("p")), 1.0, 1.0, 1 / 3, dcg([3]) / dcg([1])),
    # 2 relevant, one at rank 6, the other never retrieved: the old ideal (retrieved
    # relevant only, 1 chunk) gave nDCG 0.356; the true ideal holds both.
    (Ranking(("x", "y", "z", "w", "v", "q"), frozenset(("q", "r"))),
     0.0, 0.0, 1 / 6, dcg([6]) / dcg([1, 2])),
    # 12 relevant, 5 of them filling the top 5: recall@5 is capped at 5/12.
    (Ranking(tuple("abcde"), frozenset("abcdefghijkl")), 5 / 12, 1.0, 1.0,
     dcg([1, 2, 3, 4, 5]) / dcg(list(range(1, 11)))),
    # The expected section is in no chunk of the index: zeros, and it still counts.
    (Ranking(("x",), frozenset()), 0.0, 0.0, 0.0, 0.0),
    # Nothing retrieved.
    (Ranking((), frozenset("r")), 0.0, 0.0, 0.0, 0.0),
]  # fmt: skip
NAMES = ("recall@5", "hit_rate@5", "mrr", "ndcg@10")


def test_each_question_scores_by_the_definitions() -> None:
    per_q = per_question_metrics([c[0] for c in CASES], 5)
    for i, (_, *expected) in enumerate(CASES):
        got = [per_q[m][i] for m in NAMES]
        assert got == pytest.approx(expected), (i, dict(zip(NAMES, got, strict=True)))
    assert CASES[2][4] == pytest.approx(0.2184, abs=1e-4)  # not 0.356 (the old ideal)


def test_means_count_every_question() -> None:
    means = retrieval_metrics([c[0] for c in CASES], 5)
    for j, m in enumerate(NAMES):
        assert means[m] == pytest.approx(np.mean([c[j + 1] for c in CASES])), m
    assert retrieval_metrics([], 5) == dict.fromkeys(NAMES, 0.0)


def test_our_numbers_are_ranx_numbers() -> None:
    scored = [c[0] for c in CASES[:4]]  # ranx needs something relevant and retrieved
    qrels = Qrels({f"q{i}": dict.fromkeys(r.relevant, 1) for i, r in enumerate(scored)})
    run = Run({f"q{i}": {d: 1.0 / (n + 1) for n, d in enumerate(r.retrieved)}
               for i, r in enumerate(scored)})  # fmt: skip
    direct = evaluate(qrels, run, list(NAMES))
    ours = retrieval_metrics(scored, 5)
    assert ours == pytest.approx({m: float(direct[m]) for m in NAMES})


def test_k_names_the_cutoff() -> None:
    ranking = Ranking(("x", "a", "b"), frozenset("abc"))
    one = retrieval_metrics([ranking], 1)
    assert one["recall@1"] == 0.0 and one["hit_rate@1"] == 0.0
    three = retrieval_metrics([ranking], 3)
    assert three["recall@3"] == pytest.approx(2 / 3) and three["hit_rate@3"] == 1.0


def chunk(cid: str, source: str, title: str, section: str) -> Chunk:
    return Chunk(cid, source, title, section, "text", None, (5,), "hash")


def test_every_relevant_chunk_of_the_index_counts() -> None:
    chunks = [
        chunk("1", "ml.md", "ML", "ML > Regularization > Ridge"),
        chunk("2", "ml.md", "ML", "ML > Regularization > Ridge"),  # the section's 2nd chunk
        chunk("3", "ml.md", "ML", "ML > Regularization"),
        chunk("4", "ml.md", "ML", "ML > Trees"),
        chunk("5", "other.md", "Other", "Other > Ridge"),  # same heading, other source
    ]
    judge = RelevanceJudge(chunks)
    q = Question("q", "What does ridge add?", 5, "ml.md", "Ridge")
    assert judge.relevant(q) == {"1", "2"}
    whole = Question("w", "ML?", 5, "ml.md", "ML")  # the title: every chunk of the file
    assert judge.relevant(whole) == {"1", "2", "3", "4"}
    assert judge.relevant(Question("n", "?", 5, "ml.md", "No Such Section")) == frozenset()
