"""FAISS index types by size: flat, HNSW, IVF-PQ built, saved, memory-mapped, searched, recorded.

Vectors are a small clustered synthetic set (unit rows around gaussian centres, like
sentence embeddings); thresholds are lowered through the build options so every type is
built on a corpus of tens of chunks.
"""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from assistant.cli.index import index as index_cli
from assistant.errors import BadInputError, IndexCorruptError
from assistant.index import MANIFEST, VECTORS, Manifest, current_version, resolve_version_dir
from assistant.index_plan import KINDS, choose_index_type, plan_index
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from assistant.vectorstore import FaissIndex, _selector
from tests.indexing.minicorpus import Template, build

N, DIM, CENTRES, K = 3_000, 384, 60, 10


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors (N, DIM), queries (50, DIM), exact top-K ids per query)."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)

    def draw(n: int) -> np.ndarray:
        x = centres[rng.integers(0, CENTRES, n)] + 0.8 * rng.standard_normal((n, DIM))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    vectors, queries = draw(N), draw(50)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :K]
    return vectors, queries, exact


@pytest.fixture(scope="module")
def built(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, FaissIndex]:
    """Each kind built once with its defaults for N rows (FAISS on one thread: CI shares cores)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return {
            kind: FaissIndex.build(data[0], kind, plan_index(kind, N, DIM)[1]) for kind in KINDS
        }
    finally:
        faiss.omp_set_num_threads(threads)


def variant(index: FaissIndex, vectors: np.ndarray, **params: object) -> FaissIndex:
    """The same FAISS structure searched with other recorded parameters."""
    return FaissIndex(index._index, index.kind, dict(index.params, **params), vectors)


def recall(index: FaissIndex, queries: np.ndarray, exact: np.ndarray) -> float:
    found = [{r for r, _ in index.search(q, K)} for q in queries]
    return float(np.mean([len(f & set(e)) / K for f, e in zip(found, exact, strict=True)]))


def saved_and_loaded(index: FaissIndex, vectors: np.ndarray, path: Path) -> FaissIndex:
    """Through disk as a version directory holds it: the index file and embeddings.npy."""
    index.save(path / VECTORS)
    np.save(path / "embeddings.npy", vectors)
    mapped = np.load(path / "embeddings.npy", mmap_mode="r")
    return FaissIndex.load(path / VECTORS, index.kind, index.params, mapped)


@pytest.mark.parametrize("kind", KINDS)
def test_each_type_is_built_saved_mapped_and_searched(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    built: dict[str, FaissIndex],
    kind: str,
    tmp_path: Path,
) -> None:
    vectors, queries, exact = data
    loaded = saved_and_loaded(built[kind], vectors, tmp_path)
    assert (loaded.kind, loaded.ntotal, loaded.dimension) == (kind, N, DIM)
    # Memory-mapped, not copied: the index file is one of this process's mappings.
    assert str(tmp_path / VECTORS) in Path("/proc/self/maps").read_text()
    assert recall(loaded, queries, exact) >= (1.0 if kind == "flat" else 0.95)
    hits = loaded.search(queries[0], K)
    # Scores are true cosines (IVF-PQ re-scores its shortlist from the stored vectors).
    for row, score in hits:
        assert score == pytest.approx(float(vectors[row] @ queries[0]), abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_ivfpq_defaults_are_sized_by_the_rows_and_searched_as_recorded(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], built: dict[str, FaissIndex], tmp_path: Path
) -> None:
    vectors, queries, exact = data
    kind, params = plan_index("auto", N, DIM, hnsw_threshold=100, ivfpq_threshold=1_000)
    assert kind == "ivfpq"
    assert 1 < params["nlist"] <= N // 39 and DIM % params["m"] == 0 and params["nbits"] == 8
    assert params["train_size"] <= N and params["nprobe"] <= params["nlist"]
    assert (params["hnsw_threshold"], params["ivfpq_threshold"]) == (100, 1_000)
    # The recorded nprobe is the one searched with after a load: one list finds less.
    loaded = saved_and_loaded(variant(built["ivfpq"], vectors, nprobe=1), vectors, tmp_path)
    assert faiss.extract_index_ivf(loaded._index).nprobe == 1
    assert loaded.params["nprobe"] == 1
    assert recall(loaded, queries, exact) < recall(built["ivfpq"], queries, exact)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exact_rows", [0, 20_000])  # 0: the filter goes through FAISS
def test_a_row_filter_keeps_every_hit_inside_it(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    built: dict[str, FaissIndex],
    kind: str,
    exact_rows: int,
) -> None:
    vectors, queries, _ = data
    index = variant(built[kind], vectors, filter_exact_rows=exact_rows)
    for allowed in (np.arange(0, N, 3, dtype=np.int64), np.array([5, 17, N - 1], dtype=np.int64)):
        for q in queries[:10]:
            rows = [r for r, _ in index.search(q, K, allowed)]
            assert set(rows) <= set(allowed.tolist())
            assert len(rows) == min(K, len(allowed))
            best = allowed[np.argsort(-(vectors[allowed] @ q))[:K]]
            assert len(set(rows) & set(best.tolist())) >= 0.8 * len(best)
        assert index.search(queries[0], K, np.zeros(0, dtype=np.int64)) == []


def test_a_flat_filter_scores_its_rows_only_with_the_results_of_a_full_scan(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """The flat index gets the filter's ids (no N-sized mask) and finds, bit for bit, what a
    scan of all N rows through a bitmap selector finds, ties (copied passages) included."""
    vectors, queries, _ = data
    copies = vectors.copy()
    copies[100:110] = copies[7]  # ten copies of row 7: equal scores
    index = FaissIndex.build(copies, "flat")
    raw = index._index

    def full_scan(q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        mask = np.zeros(N, dtype=bool)
        mask[allowed] = True
        bits = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        scores, ids = raw.search(q.reshape(1, -1), k, params=faiss.SearchParameters(sel=sel))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    rng = np.random.default_rng(3)
    filters = [
        np.array([5, 17, N - 1], dtype=np.int64),
        np.union1d(np.arange(95, 115), [7]).astype(np.int64),  # the copies and their original
        np.sort(rng.choice(N, 400, replace=False)).astype(np.int64),
        np.arange(0, N, 2, dtype=np.int64),  # wide: half the rows
    ]
    for allowed in filters:
        assert _selector(allowed, N, "flat")[1].nbytes == 8 * len(allowed)  # ids, not N bits
        for q in [copies[7], *queries[:8]]:
            for k in (1, K, 50):
                assert index.search(q, k, allowed) == full_scan(q, k, allowed)
    hits = index.search(copies[7], 12, filters[1])
    assert [s for _, s in hits[:11]] == [hits[0][1]] * 11  # the ties did reach the top


def test_a_filter_the_probed_lists_miss_is_scored_exactly(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], built: dict[str, FaissIndex]
) -> None:
    vectors, queries, _ = data
    index = variant(built["ivfpq"], vectors, nprobe=1, filter_exact_rows=0)
    allowed = np.array([1, 2, 3, 1_000, N - 1], dtype=np.int64)
    for q in queries[:5]:
        expected = allowed[np.argsort(-(vectors[allowed] @ q))].tolist()
        assert [r for r, _ in index.search(q, 10, allowed)] == expected


def test_auto_chooses_by_size() -> None:
    assert [choose_index_type("auto", n, 50, 1_000) for n in (49, 50, 999, 1_000)] == [
        "flat",
        "hnsw",
        "hnsw",
        "ivfpq",
    ]
    assert choose_index_type("flat", 10**7) == "flat"


def test_unknown_index_types_and_parameters_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(
        BadInputError, match=r"index type must be one of auto, flat, hnsw, ivfpq, got 'annoy'"
    ):
        plan_index("annoy", 10, DIM)
    with pytest.raises(BadInputError, match=r"'nprobe' does not apply to a flat index"):
        plan_index("flat", 10, DIM, overrides={"nprobe": 4})
    with pytest.raises(ValidationError, match="index_type"):
        Settings(index_type="annoy")  # type: ignore[arg-type]
    result = CliRunner().invoke(
        index_cli, ["build", "--corpus", str(tmp_path), "--index-type", "annoy"]
    )
    assert result.exit_code == 2 and "'annoy' is not one of" in result.output


@pytest.fixture(scope="module")
def template(embedder, tmp_path_factory: pytest.TempPathFactory) -> Template:  # type: ignore[no-untyped-def]
    return Template(embedder, tmp_path_factory.mktemp("scale-template"))


def test_a_bad_index_type_publishes_nothing(embedder, template: Template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = template.copy(tmp_path)
    before = current_version(index_dir)
    with pytest.raises(BadInputError, match="got 'annoy'"):
        build(embedder, corpus, index_dir, index_type="annoy", full=True)
    assert current_version(index_dir) == before
    IndexSnapshot.load(index_dir)  # the published version still serves


def test_ivfpq_build_records_its_params_and_the_snapshot_searches_with_them(
    embedder, template: Template, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = template.copy(tmp_path)
    report = build(
        embedder,
        corpus,
        index_dir,
        hnsw_threshold=2,
        ivfpq_threshold=5,
        index_params={"k_factor": 3},
    )
    assert report.embedded == 0  # vectors reused: only the FAISS structure changed
    manifest = Manifest.read(resolve_version_dir(index_dir)[1] / MANIFEST)
    _, planned = plan_index("auto", report.chunks, 384, hnsw_threshold=2, ivfpq_threshold=5)
    assert manifest.index_type == "ivfpq"
    assert manifest.index_params == dict(planned, k_factor=3)
    snap = IndexSnapshot.load(index_dir)
    assert snap.dense.kind == "ivfpq" and snap.dense.params == manifest.index_params
    q = embedder.embed_query("Why does dropout zero activations during training?")
    row, score = snap.dense.search(q, 1)[0]
    assert snap.chunks[row].section.endswith("Dropout") and score > 0.5
    status = CliRunner().invoke(index_cli, ["status", "--index-dir", str(index_dir), "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["index_params"]["k_factor"] == 3


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_a_manifest_without_index_params_still_loads(
    embedder, template: Template, tmp_path: Path, kind: str
) -> None:  # type: ignore[no-untyped-def]
    corpus, index_dir = template.copy(tmp_path)
    build(embedder, corpus, index_dir, index_type=kind)
    path = resolve_version_dir(index_dir)[1] / MANIFEST
    raw = json.loads(path.read_text())
    del raw["index_params"]
    path.write_text(json.dumps(raw))
    snap = IndexSnapshot.load(index_dir)
    assert snap.manifest.index_params == {} and snap.dense.kind == kind
    if kind == "hnsw":  # the search parameters an older build was served with
        assert snap.dense.params["ef_search"] == 128
    assert snap.dense.search(embedder.embed_query("ridge penalty"), 3)


def test_a_manifest_naming_an_unknown_type_is_refused(template: Template, tmp_path: Path) -> None:
    _, index_dir = template.copy(tmp_path)
    path = resolve_version_dir(index_dir)[1] / MANIFEST
    raw = json.loads(path.read_text())
    raw["index_type"] = "annoy"
    path.write_text(json.dumps(raw))
    with pytest.raises(IndexCorruptError, match=r"index type 'annoy'.*flat, hnsw, ivfpq"):
        IndexSnapshot.load(index_dir)
    raw["index_type"] = "hnsw"  # the file holds a flat index
    path.write_text(json.dumps(raw))
    with pytest.raises(IndexCorruptError, match="holds a IndexFlatIP, the manifest says hnsw"):
        IndexSnapshot.load(index_dir)
