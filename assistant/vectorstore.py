"""FAISS inner-product index over unit vectors: flat, HNSW or IVF-PQ (see assistant/index_plan.py).

Loaded memory-mapped (``IO_FLAG_MMAP_IFC``): flat codes, the HNSW graph and storage, and
IVF inverted lists stay in the page cache, shared by every replica on a node, instead of
being copied into each process. (FAISS's older ``IO_FLAG_MMAP`` maps only IVF lists; a
flat or HNSW index read with it is copied into anonymous memory.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant.errors import BadInputError, IndexCorruptError
from assistant.index_plan import KINDS, search_params

__all__ = ["FaissIndex"]

_MMAP = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
_ADD_BATCH = 65_536  # rows added (and re-scored) per step: bounded copies of an mmap'd array


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


class FaissIndex:
    """Dense search over the rows of a chunk table (row id = chunk position).

    ``vectors`` are the (N, dim) unit rows the index was built from (the version's
    ``embeddings.npy``, memory-mapped): IVF-PQ re-scores its shortlist with them, and
    HNSW and IVF-PQ score a narrow filter's rows exactly from them. A flat index scores
    a filter's rows only, from its own codes, whatever the filter's width.
    """

    def __init__(
        self,
        index: faiss.Index,
        kind: str,
        params: dict[str, Any] | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        self._index = index
        self.kind = kind
        self.params = search_params(kind, params or {}, int(index.ntotal), int(index.d))
        self._vectors = vectors
        if kind == "ivfpq" and vectors is None:
            raise BadInputError("an ivfpq index re-scores from the stored vectors: pass them")
        if vectors is not None and vectors.shape != (index.ntotal, index.d):
            raise IndexCorruptError(
                f"the stored vectors are {vectors.shape}, the index holds "
                f"{index.ntotal} x {index.d}"
            )
        if kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = int(self.params["ef_search"])  # type: ignore[attr-defined]
        elif kind == "ivfpq":
            faiss.extract_index_ivf(index).nprobe = int(self.params["nprobe"])

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: str, params: dict[str, Any] | None = None
    ) -> FaissIndex:
        """Index ``vectors`` (N, dim) float32 unit rows; ``params`` default to the kind's."""
        if kind not in KINDS:
            raise BadInputError(f"index type must be one of {', '.join(KINDS)}, got {kind!r}")
        n, dim = vectors.shape
        p = search_params(kind, params or {}, n, dim)
        index: faiss.Index
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, int(p["M"]), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(p["ef_construction"])
        elif kind == "ivfpq":
            index = _train_ivfpq(vectors, p)
        else:
            index = faiss.IndexFlatIP(dim)
        for start in range(0, n, _ADD_BATCH):
            index.add(_f32(vectors[start : start + _ADD_BATCH]))
        return cls(index, kind, p, vectors)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(
        cls,
        path: Path,
        kind: str,
        params: dict[str, Any] | None = None,
        vectors: np.ndarray | None = None,
    ) -> FaissIndex:
        """Read ``path`` memory-mapped; ``params`` come from the manifest (defaults if absent)."""
        if kind not in KINDS:
            raise IndexCorruptError(
                f"{path} is recorded as index type {kind!r}; this version reads "
                f"{', '.join(KINDS)}: rebuild the index"
            )
        try:
            # Memory-mapped: replicas on one node share the page cache.
            index = faiss.read_index(str(path), _MMAP)
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index: {exc}") from exc
        expected = {"flat": faiss.IndexFlat, "hnsw": faiss.IndexHNSW, "ivfpq": faiss.IndexIVFPQ}
        if not isinstance(index, expected[kind]):
            raise IndexCorruptError(
                f"{path} holds a {type(index).__name__}, the manifest says {kind}"
            )
        if vectors is not None and len(vectors) != index.ntotal:  # one row per chunk
            raise IndexCorruptError(
                f"{path} holds {index.ntotal} vectors for {len(vectors)} chunks"
            )
        if vectors is not None and vectors.shape[1] != index.d:
            raise IndexCorruptError(
                f"{path} has dimension {index.d}, the vectors {vectors.shape[1]}"
            )
        return cls(index, kind, params, vectors)

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) for a unit query (dim,); ``allowed`` restricts rows (int64 ids)."""
        if self.ntotal == 0 or k <= 0:
            return []
        q = _f32(query.reshape(1, -1))
        if allowed is not None:
            if len(allowed) == 0:
                return []
            narrow = len(allowed) <= int(self.params["filter_exact_rows"])
            if self.kind != "flat" and self._vectors is not None and narrow:
                return self._exact(q[0], k, allowed)
        hits = self._approximate(q, k, allowed)
        if allowed is not None and len(hits) < min(k, len(allowed)) and self._vectors is not None:
            # The probed lists (or graph walk) held too few allowed rows: score them all.
            return self._exact(q[0], k, allowed)
        return hits

    def _approximate(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        selector, _keep = _selector(allowed, self.ntotal, self.kind)
        p = self.params
        params: Any = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=int(p["ef_search"]))  # type: ignore[attr-defined]
        elif self.kind == "ivfpq":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=int(p["nprobe"]))  # type: ignore[call-arg]
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        want = min(k * int(p["k_factor"]) if self.kind == "ivfpq" else k, self.ntotal)
        scores, ids = self._index.search(q, want, params=params)
        if self.kind != "ivfpq":
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        rows = np.unique(ids[0][ids[0] >= 0])  # sorted: mmap reads in file order
        return self._rescore(q[0], k, rows)

    def _exact(self, q: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k over ``rows`` (sorted int64) from the stored vectors, in blocks."""
        best: list[tuple[int, float]] = []
        for start in range(0, len(rows), _ADD_BATCH):
            best = sorted(
                best + self._rescore(q, k, rows[start : start + _ADD_BATCH]),
                key=lambda h: -h[1],
            )[:k]
        return best

    def _rescore(self, q: np.ndarray, k: int, rows: np.ndarray) -> list[tuple[int, float]]:
        assert self._vectors is not None
        if not len(rows):
            return []
        scores = _f32(self._vectors[rows]) @ q  # (len(rows),) cosines of unit rows
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(rows[i]), float(scores[i])) for i in top]


def _selector(allowed: np.ndarray | None, n: int, kind: str) -> tuple[Any, Any]:
    """A FAISS ID selector for ``allowed`` and the buffer it reads (keep both alive)."""
    if allowed is None:
        return None, None
    if kind == "flat":
        # A flat index given an ID array scores those rows only (FAISS's knn by index, the
        # same inner products and heap as a scan with a selector): the cost is the filter's
        # rows, not the corpus's, and no N-sized mask is built.
        ids = np.ascontiguousarray(allowed, dtype=np.int64)
        return faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)), ids
    # A graph walk or list probe asks about each row it visits: a bitmap answers in O(1) for
    # N/8 bytes whatever the filter's size (a hash set of a wide filter costs more).
    mask = np.zeros(n, dtype=bool)
    mask[allowed] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits


def _train_ivfpq(vectors: np.ndarray, p: dict[str, Any]) -> faiss.Index:
    """An untrained-then-trained IndexIVFPQ on a seeded sample of ``vectors``."""
    n, dim = vectors.shape
    m = int(p["m"])
    if dim % m:
        raise BadInputError(f"ivfpq m must divide the dimension {dim}, got {m}")
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(
        quantizer, dim, int(p["nlist"]), m, int(p["nbits"]), faiss.METRIC_INNER_PRODUCT
    )
    index.cp.spherical = bool(p.get("spherical", True))  # unit centroids for inner product
    index.cp.seed = int(p["train_seed"])
    niter = int(p.get("kmeans_niter", index.cp.niter))
    index.cp.niter = index.pq.cp.niter = niter  # coarse and PQ k-means alike
    index.pq.cp.seed = int(p["train_seed"])
    size = min(n, int(p["train_size"]))
    rng = np.random.default_rng(int(p["train_seed"]))
    sample = np.sort(rng.choice(n, size=size, replace=False)) if size < n else np.arange(n)
    index.train(_f32(vectors[sample]))
    return index
