"""FAISS inner-product index over unit vectors: exact flat when small, HNSW when large."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from assistant.errors import IndexCorruptError

HNSW_M = 32  # graph degree: 32 is the usual recall/memory balance for 384-768 dims
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def choose_index_type(index_type: str, n_vectors: int, hnsw_threshold: int) -> str:
    if index_type == "auto":
        return "hnsw" if n_vectors >= hnsw_threshold else "flat"
    return index_type


class FaissIndex:
    """Dense search over the rows of a chunk table (row id = chunk position)."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str) -> FaissIndex:
        dim = vectors.shape[1]
        index: faiss.Index
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        elif kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"index type must be 'flat' or 'hnsw', got {kind!r}")
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str) -> FaissIndex:
        try:
            # Memory-mapped: replicas on one node share the page cache.
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is not a readable FAISS index: {exc}") from exc
        if kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]
        return cls(index, kind)

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
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)  # type: ignore[attr-defined]
                if self.kind == "hnsw"
                else faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            )
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(q, min(k, self.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
