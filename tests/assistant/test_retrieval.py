"""Hybrid retrieval: quality on the project's question set, HNSW against flat, filters, fusion."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import BadInputError
from assistant.evaluation import Question, evaluate_retrieval, load_questions
from assistant.factory import make_retriever
from assistant.index import MANIFEST, Manifest, resolve_version_dir
from assistant.retrieval import HybridRetriever, Mode, rrf_fuse, weighted_fuse
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from assistant.types import SearchHit
from tests.conftest import CORPUS
from tests.indexing.minicorpus import Template, build

# Measured on the real corpus (notes + roadmap: 395 chunks, URL sources skipped) with the
# default settings (weighted fusion, 0.6 dense) and all-MiniLM-L6-v2 on CPU, as
# hit_rate@5 / MRR (hit_rate@5 is what this file called recall@5 before ranx): hybrid
# 0.995 / 0.926, dense 0.934 / 0.829, bm25 0.958 / 0.864; reciprocal rank fusion (k=60,
# even weights) 0.995 / 0.914. True recall@5 and nDCG@10 (every relevant chunk of the
# index counts): see MEASURED_RECALL_NDCG.
MEASURED_HIT_RATE5 = {"hybrid": 0.995, "dense": 0.934, "bm25": 0.958, "rrf": 0.995}
# recall@5 / nDCG@10 with ranx, re-measured 2026-12-02 on the same index and questions.
MEASURED_RECALL_NDCG = {"hybrid": (0.566, 0.678), "dense": (0.519, 0.620), "bm25": (0.456, 0.564)}
MARGIN = 0.02
# Hybrid hit_rate@5 per phase measured 1.0 everywhere but phase 5 (0.969: 1 miss of 32);
# the floor leaves room for one more miss in any phase (20-32 questions each).
PHASE_FLOOR = 0.93
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


class Searcher:
    """``StudyAssistant.search`` minus the service: one query vector per question, reused."""

    def __init__(self, snapshot: IndexSnapshot, retriever: HybridRetriever, embedder: Any) -> None:
        self.snapshot = snapshot
        self.retriever = retriever
        self.embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def search(self, query: str, k: int, mode: Mode = "hybrid") -> tuple[list[SearchHit], str]:
        if query not in self._vectors:
            self._vectors[query] = self.embedder.embed_query(query)
        hits = self.retriever.search(self.snapshot, query, self._vectors[query], k, mode=mode)
        return hits, self.snapshot.version


def default_retriever() -> HybridRetriever:
    # model_construct: the field defaults, untouched by ASSISTANT_* variables or a .env file.
    return make_retriever(Settings.model_construct())


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(CORPUS / "eval")


@pytest.fixture(scope="module")
def real_searcher(corpus_index: Path, embedder) -> Searcher:  # type: ignore[no-untyped-def]
    snap = IndexSnapshot.load(corpus_index, model_name=embedder.model_name)
    return Searcher(snap, default_retriever(), embedder)


@pytest.fixture(scope="module")
def scores(real_searcher: Searcher, questions: list[Question]) -> dict[str, dict[str, Any]]:
    return {m: evaluate_retrieval(real_searcher, questions, k=5, mode=m) for m in MODES}


# --- quality on the project's question set ------------------------------------------------


@pytest.mark.slow
def test_question_set_is_complete(questions: list[Question]) -> None:
    assert len(questions) == 212
    assert {q.phase for q in questions} == set(range(1, 10))


@pytest.mark.slow
def test_each_mode_keeps_its_measured_quality(scores: dict[str, dict[str, Any]]) -> None:
    table = {m: {k: round(v, 3) for k, v in scores[m]["overall"].items()} for m in MODES}
    for mode in MODES:
        got = scores[mode]["overall"]["hit_rate@5"]
        assert got >= MEASURED_HIT_RATE5[mode] - MARGIN, (mode, table, scores[mode]["misses"])
        recall, ndcg = MEASURED_RECALL_NDCG[mode]
        assert scores[mode]["overall"]["recall@5"] >= recall - MARGIN, (mode, table)
        assert scores[mode]["overall"]["ndcg@10"] >= ndcg - MARGIN, (mode, table)


@pytest.mark.slow
def test_hybrid_beats_both_single_modes(scores: dict[str, dict[str, Any]]) -> None:
    hybrid = scores["hybrid"]["overall"]
    for single in ("dense", "bm25"):
        for metric in ("hit_rate@5", "recall@5", "mrr", "ndcg@10"):
            assert hybrid[metric] >= scores[single]["overall"][metric], (single, metric)


@pytest.mark.slow
def test_reciprocal_rank_fusion_keeps_its_level(
    real_searcher: Searcher, questions: list[Question], scores: dict[str, dict[str, Any]]
) -> None:
    rrf = Searcher(
        real_searcher.snapshot,
        HybridRetriever(fusion="rrf", rrf_k=60, dense_weight=0.5),
        real_searcher.embedder,
    )
    rrf._vectors = real_searcher._vectors  # same questions, same vectors
    got = evaluate_retrieval(rrf, questions, k=5)["overall"]
    assert got["hit_rate@5"] >= MEASURED_HIT_RATE5["rrf"] - MARGIN
    for single in ("dense", "bm25"):
        assert got["hit_rate@5"] >= scores[single]["overall"]["hit_rate@5"]


@pytest.mark.slow
def test_every_phase_keeps_its_floor(scores: dict[str, dict[str, Any]]) -> None:
    by_phase = scores["hybrid"]["by_phase"]
    table = "\n".join(
        f"phase {p}: hit_rate@5 {m['hit_rate@5']:.3f}  recall@5 {m['recall@5']:.3f}  "
        f"mrr {m['mrr']:.3f}  ndcg@10 {m['ndcg@10']:.3f}"
        for p, m in by_phase.items()
    )
    print("\nhybrid by phase\n" + table)
    assert set(by_phase) == set(range(1, 10))
    low = {p: m["hit_rate@5"] for p, m in by_phase.items() if m["hit_rate@5"] < PHASE_FLOOR}
    assert not low, table


# --- HNSW against flat on the real vectors -------------------------------------------------


@pytest.mark.slow
def test_hnsw_build_reuses_vectors_and_agrees_with_flat(
    corpus_index: Path, embedder, tmp_path: Path, real_searcher: Searcher, questions: list[Question]
) -> None:  # type: ignore[no-untyped-def]
    index_dir = tmp_path / "hnsw"
    shutil.copytree(corpus_index, index_dir)
    report = build(embedder, CORPUS, index_dir, index_type="hnsw")
    assert report.embedded == 0  # only the FAISS structure changes
    _, path = resolve_version_dir(index_dir)
    assert Manifest.read(path / MANIFEST).index_type == "hnsw"
    snap = IndexSnapshot.load(index_dir, model_name=embedder.model_name)
    assert snap.dense.kind == "hnsw"
    hnsw = Searcher(snap, default_retriever(), embedder)
    hnsw._vectors = real_searcher._vectors  # same queries, same vectors

    overlap_dense, overlap_hybrid = [], []
    for q in questions:
        flat_d = {h.chunk.chunk_id for h in real_searcher.search(q.question, 10, "dense")[0]}
        hnsw_d = {h.chunk.chunk_id for h in hnsw.search(q.question, 10, "dense")[0]}
        overlap_dense.append(len(flat_d & hnsw_d) / 10)
        flat_h = {h.chunk.chunk_id for h in real_searcher.search(q.question, 5)[0]}
        hnsw_h = {h.chunk.chunk_id for h in hnsw.search(q.question, 5)[0]}
        overlap_hybrid.append(len(flat_h & hnsw_h) / 5)
    # efSearch 128 on a few hundred vectors is all but exact.
    assert np.mean(overlap_dense) >= 0.98
    assert np.mean(overlap_hybrid) >= 0.98
    hit_rate = evaluate_retrieval(hnsw, questions, k=5)["overall"]["hit_rate@5"]
    assert hit_rate >= MEASURED_HIT_RATE5["hybrid"] - MARGIN


# --- filters, flat and HNSW, on the mini corpus ------------------------------------------


@pytest.fixture(scope="module")
def mini(embedder, tmp_path_factory: pytest.TempPathFactory) -> dict[str, IndexSnapshot]:  # type: ignore[no-untyped-def]
    """The mini corpus as a flat index and (auto, tiny thresholds) as HNSW and IVF-PQ indexes.

    Filters on HNSW and IVF-PQ go through the FAISS ID selector here (``filter_exact_rows``
    0); tests/assistant/test_index_scale.py covers the exact path for narrow filters.
    """
    t = Template(embedder, tmp_path_factory.mktemp("retrieval-template"))
    snaps = {"flat": IndexSnapshot.load(t.index_dir)}
    for kind, ivfpq_threshold in (("hnsw", 10**6), ("ivfpq", 6)):
        _, index_dir = t.copy(tmp_path_factory.mktemp(f"retrieval-{kind}"))
        report = build(
            embedder,
            t.corpus,
            index_dir,
            index_type="auto",
            hnsw_threshold=5,
            ivfpq_threshold=ivfpq_threshold,
            index_params={"filter_exact_rows": 0},
        )
        assert report.embedded == 0
        snaps[kind] = IndexSnapshot.load(index_dir)
    return snaps


def search(embedder, snap: IndexSnapshot, query: str, k: int = 5, **kw: Any) -> list[SearchHit]:  # type: ignore[no-untyped-def]
    return default_retriever().search(snap, query, embedder.embed_query(query), k, **kw)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_index_kind_and_unfiltered_search(
    embedder, mini: dict[str, IndexSnapshot], kind: str
) -> None:  # type: ignore[no-untyped-def]
    snap = mini[kind]
    assert snap.manifest.index_type == kind == snap.dense.kind
    hits = search(embedder, snap, "Why does dropout zero activations during training?")
    assert hits[0].chunk.section.endswith("Dropout")
    assert hits[0].dense_score is not None and hits[0].dense_score > 0.5
    assert hits[0].sparse_score is not None and hits[0].sparse_score > 0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
@pytest.mark.parametrize("mode", MODES)
def test_phase_filter(embedder, mini: dict[str, IndexSnapshot], kind: str, mode: Mode) -> None:  # type: ignore[no-untyped-def]
    snap = mini[kind]
    hits = search(embedder, snap, "dropout activations training", k=10, phases=[5], mode=mode)
    assert hits, "phase 5 has chunks"
    assert all(5 in h.chunk.phases for h in hits)
    assert not any(h.chunk.section.endswith("Dropout") for h in hits)
    hits = search(embedder, snap, "dropout", k=10, phases=[6, 7], mode=mode)
    assert hits and all({6, 7} & set(h.chunk.phases) for h in hits)
    assert search(embedder, snap, "dropout", phases=[9], mode=mode) == []


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
@pytest.mark.parametrize("mode", MODES)
def test_source_filter(embedder, mini: dict[str, IndexSnapshot], kind: str, mode: Mode) -> None:  # type: ignore[no-untyped-def]
    snap = mini[kind]
    query = "Q-learning reward exploration git branch ridge penalty"
    for wanted in (["notes/"], ["notes"]):
        hits = search(embedder, snap, query, k=20, sources=wanted, mode=mode)
        assert hits and all(h.chunk.source.startswith("notes/") for h in hits)
    hits = search(embedder, snap, query, k=20, sources=["guide.md"], mode=mode)
    assert hits and {h.chunk.source for h in hits} == {"guide.md"}
    hits = search(embedder, snap, query, k=20, sources=["guide.md"], phases=[5], mode=mode)
    assert hits and all(h.chunk.source == "guide.md" and 5 in h.chunk.phases for h in hits)
    assert search(embedder, snap, query, sources=["nowhere.md"], mode=mode) == []
    # A prefix is a folder, not a string prefix: "note" names nothing.
    assert search(embedder, snap, query, sources=["note"], mode=mode) == []


def test_k_is_validated_and_capped_by_the_allowed_rows(
    embedder, mini: dict[str, IndexSnapshot]
) -> None:  # type: ignore[no-untyped-def]
    snap = mini["flat"]
    with pytest.raises(BadInputError, match="k must be > 0, got 0"):
        search(embedder, snap, "ridge", k=0)
    hits = search(embedder, snap, "git branch commit", k=50, sources=["notes/tools.txt"])
    assert len(hits) == 1


def test_bm25_with_no_known_word_finds_nothing(embedder, mini: dict[str, IndexSnapshot]) -> None:  # type: ignore[no-untyped-def]
    assert search(embedder, mini["flat"], "zyzzyva quokka", mode="bm25") == []


def test_weighted_fusion_ranks_the_obvious_passage_first(
    embedder, mini: dict[str, IndexSnapshot]
) -> None:  # type: ignore[no-untyped-def]
    r = HybridRetriever(fusion="weighted", dense_weight=0.5)
    q = "L2 penalty that shrinks coefficients"
    hits = r.search(mini["flat"], q, embedder.embed_query(q), 3)
    assert hits[0].chunk.section.endswith("Ridge Regression")
    assert 0 <= hits[-1].score <= hits[0].score <= 1.0


def test_duplicate_passages_are_collapsed(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.indexing.minicorpus import write_corpus

    corpus = write_corpus(tmp_path / "corpus", sources_toml=False)
    shutil.copy(corpus / "guide.md", corpus / "guide-copy.md")
    build(embedder, corpus, tmp_path / "index")
    snap = IndexSnapshot.load(tmp_path / "index")
    hits = search(embedder, snap, "dropout zeroes activations", k=5)
    texts = [h.chunk.text for h in hits]
    assert len(texts) == len(set(texts))  # the copy's identical chunk is dropped
    dropout = [h for h in hits if h.chunk.section.endswith("Dropout")]
    assert len(dropout) == 1


def test_fusion_arithmetic() -> None:
    fused = rrf_fuse([[7, 3], [3, 9]], k=60, weights=[1.0, 1.0])
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[7] == pytest.approx(1 / 61) and fused[9] == pytest.approx(1 / 62)
    w = weighted_fuse({1: 0.9, 2: 0.5}, {2: 10.0, 3: 5.0}, dense_weight=0.25)
    assert w == pytest.approx({1: 0.25, 2: 0.75, 3: 0.0})
