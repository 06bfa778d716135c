"""Held-out retrieval (issue 2): real Python 3.11 HTML docs that the repository does not hold.

The pages of ``bench/data/heldout_python_docs_pages.txt`` are copied from Debian's
``python3.11-doc`` into a temp corpus and indexed with the real build job. Each question
of ``bench/data/heldout_python_docs.jsonl`` is asked as written (the docs' wording) and
as a learner would paraphrase it. With the retrieval settings of ``Settings()`` the hybrid
must beat BM25 alone and dense alone **by MRR** on both kinds. MRR, not hit_rate@5: BM25
already finds every written question in its top 5, so on hits the hybrid can only tie.
``bench/heldout_docs.py`` prints the full table and a sweep of fusion settings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant.evaluation import Question, RelevanceJudge, retrieval_metrics
from assistant.factory import make_retriever
from assistant.retrieval import HybridRetriever
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from indexing.build import BuildOptions, build_index

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
PAGES_FILE = REPO / "bench" / "data" / "heldout_python_docs_pages.txt"
QUESTIONS_FILE = REPO / "bench" / "data" / "heldout_python_docs.jsonl"
KINDS = ("written", "paraphrased")
MODES = ("dense", "bm25", "hybrid")

# Measured with fusion="weighted", dense_weight=0.6 (105 questions, 1,866 chunks), minus a
# margin of about 0.03 for other CPUs and library versions. Hybrid, per kind, as
# hit_rate@5 / MRR (hit_rate@5 was called recall@5 before ranx):
#   written:     1.000 / 0.981  (bm25 1.000 / 0.969, dense 0.971 / 0.930)
#   paraphrased: 0.600 / 0.458  (bm25 0.381 / 0.286, dense 0.638 / 0.434)
# and as true recall@5 / nDCG@10 (ranx, every relevant chunk counts; 2026-12-02):
#   written 0.603 / 0.794, paraphrased 0.193 / 0.292.
# With fusion="rrf", dense_weight=0.5, rrf_k=60 the paraphrased hybrid scores 0.543 / 0.418,
# below dense alone: those settings fail here.
FLOORS = {
    "written": {"hit_rate@5": 0.97, "mrr": 0.95, "recall@5": 0.57, "ndcg@10": 0.76},
    "paraphrased": {"hit_rate@5": 0.57, "mrr": 0.43, "recall@5": 0.16, "ndcg@10": 0.26},
}


def _pages() -> list[str]:
    lines = (ln.strip() for ln in PAGES_FILE.read_text(encoding="utf-8").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _rows() -> list[dict[str, str]]:
    text = QUESTIONS_FILE.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _questions(kind: str) -> list[Question]:
    return [Question(r["id"], r[kind], 0, r["source"], r["section"]) for r in _rows()]


@pytest.fixture(scope="module")
def snapshot(embedder, tmp_path_factory) -> IndexSnapshot:  # type: ignore[no-untyped-def]
    """The held-out pages, copied into a temp corpus and indexed once for this module."""
    if not DOCS_ROOT.is_dir():
        pytest.fail(
            f"{DOCS_ROOT} is missing: run `make system-deps` (installs python3.11-doc); "
            "the held-out retrieval test needs the real Python docs"
        )
    corpus = tmp_path_factory.mktemp("heldout-corpus")
    for rel in _pages():
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DOCS_ROOT / rel, corpus / rel)
    index_dir = tmp_path_factory.mktemp("heldout-index")
    report = build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)
    assert report.files == len(_pages()) and not report.skipped, report.skipped
    return IndexSnapshot.load(index_dir, model_name=embedder.model_name)


@pytest.fixture(scope="module")
def retriever() -> HybridRetriever:
    """The retriever the service builds from its settings (defaults unless overridden)."""
    return make_retriever(Settings())


@pytest.fixture(scope="module")
def scores(snapshot, embedder, retriever) -> dict[tuple[str, str], dict[str, Any]]:  # type: ignore[no-untyped-def]
    """(kind, mode) -> recall@5 / hit_rate@5 / MRR / nDCG@10 over the held-out questions."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    judge = RelevanceJudge(snapshot.chunks)
    for kind in KINDS:
        qs = _questions(kind)
        vectors = [embedder.embed_query(q.question) for q in qs]
        for mode in MODES:
            ranked = [
                judge.rank(q, retriever.search(snapshot, q.question, v, 10, mode=mode))
                for q, v in zip(qs, vectors, strict=True)
            ]
            out[(kind, mode)] = retrieval_metrics(ranked, 5)
    return out


def test_question_set_is_held_out_and_paired() -> None:
    rows = _rows()
    assert len(rows) >= 60
    assert len({r["id"] for r in rows}) == len(rows), "question ids must be unique"
    pages = set(_pages())
    for r in rows:
        assert r["source"] in pages, f"{r['id']}: {r['source']} is not in the page list"
        assert r["written"].strip() and r["paraphrased"].strip(), r["id"]
        assert r["written"] != r["paraphrased"], r["id"]
    # Held out: no copy of these pages lives in the repository (only their temp copies do).
    folders = [d for d in REPO.iterdir() if d.is_dir() and d.name[0] not in "._"]
    in_repo = {f.name for d in folders if d.name not in ("var", "build") for f in d.rglob("*.html")}
    assert not in_repo & {Path(p).name for p in pages}


def test_every_expected_section_is_in_the_index(snapshot: IndexSnapshot) -> None:
    have = {(c.source, h) for c in snapshot.chunks for h in (c.title, *c.section.split(" > "))}
    missing = [r["id"] for r in _rows() if (r["source"], r["section"]) not in have]
    assert not missing, f"expected (source, section) not found in the index: {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_hybrid_beats_bm25_and_dense_by_mrr(
    kind: str, scores: dict[tuple[str, str], dict[str, Any]], retriever: HybridRetriever
) -> None:
    hybrid, bm25, dense = (scores[(kind, m)]["mrr"] for m in ("hybrid", "bm25", "dense"))
    settings = (
        f"fusion={retriever.fusion} dense_weight={retriever.dense_weight} rrf_k={retriever.rrf_k}"
    )
    assert hybrid > bm25 and hybrid > dense, (
        f"{kind}: hybrid MRR {hybrid:.3f} must beat bm25 {bm25:.3f} and dense {dense:.3f} "
        f"({settings}); see `python bench/heldout_docs.py --own-set`"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_hybrid_stays_above_the_measured_floor(
    kind: str, scores: dict[tuple[str, str], dict[str, Any]]
) -> None:
    hybrid = scores[(kind, "hybrid")]
    for metric, floor in FLOORS[kind].items():
        assert hybrid[metric] >= floor, f"{kind}: hybrid {metric} {hybrid[metric]:.3f} < {floor}"
