"""Hybrid retrieval: dense (FAISS) + BM25, fused, de-duplicated, filtered, optionally reranked."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import numpy as np

from assistant.errors import BadInputError, ConfigError
from assistant.snapshot import IndexSnapshot
from assistant.types import SearchHit

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
_WORD = re.compile(r"\w+")


def rrf_fuse(rankings: list[list[int]], k: int, weights: list[float]) -> dict[int, float]:
    """Weighted reciprocal rank fusion: sum of w / (k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


def weighted_fuse(
    dense: dict[int, float], sparse: dict[int, float], dense_weight: float
) -> dict[int, float]:
    """Convex combination of min-max normalised scores (missing = 0)."""

    def norm(d: dict[int, float]) -> dict[int, float]:
        if not d:
            return {}
        lo, hi = min(d.values()), max(d.values())
        span = hi - lo or 1.0
        return {r: (s - lo) / span for r, s in d.items()}

    nd, ns = norm(dense), norm(sparse)
    rows = set(nd) | set(ns)
    return {r: dense_weight * nd.get(r, 0.0) + (1 - dense_weight) * ns.get(r, 0.0) for r in rows}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class HybridRetriever:
    """Searches an ``IndexSnapshot``; holds no index state itself, so swaps are trivial."""

    def __init__(
        self,
        *,
        fusion: Literal["rrf", "weighted"] = "weighted",
        rrf_k: int = 60,
        dense_weight: float = 0.6,
        candidates: int = 50,
        dedupe_overlap: float = 0.8,
        reranker: Any | None = None,
    ) -> None:
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.candidates = candidates
        self.dedupe_overlap = dedupe_overlap
        self.reranker = reranker

    def search(
        self,
        snapshot: IndexSnapshot,
        query: str,
        query_vec: np.ndarray,
        k: int = 5,
        *,
        sources: list[str] | None = None,
        phases: list[int] | None = None,
        mode: Mode = "hybrid",
    ) -> list[SearchHit]:
        if k <= 0:
            raise BadInputError(f"k must be > 0, got {k}")
        allowed = snapshot.allowed_rows(sources, phases)
        n_cand = max(self.candidates, k * 4)
        dense: dict[int, float] = {}
        sparse: dict[int, float] = {}
        if mode in ("hybrid", "dense"):
            dense = dict(snapshot.dense.search(query_vec, n_cand, allowed))
        if mode in ("hybrid", "bm25"):
            scores = snapshot.sparse.scores(query)
            if allowed is not None and len(scores):
                masked = np.zeros_like(scores)
                masked[allowed] = scores[allowed]
                scores = masked
            if len(scores):
                top = np.argsort(-scores)[:n_cand]
                sparse = {int(r): float(scores[r]) for r in top if scores[r] > 0}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = sparse
        elif self.fusion == "rrf":
            w = self.dense_weight
            rank_d = sorted(dense, key=lambda r: -dense[r])
            rank_s = sorted(sparse, key=lambda r: -sparse[r])
            fused = rrf_fuse([rank_d, rank_s], self.rrf_k, [2 * w, 2 * (1 - w)])
        else:
            fused = weighted_fuse(dense, sparse, self.dense_weight)
        order = sorted(fused, key=lambda r: -fused[r])
        hits = self._dedupe(
            snapshot, order, fused, dense, sparse, limit=k * 3 if self.reranker else k
        )
        if self.reranker is not None and hits:
            hits = self._rerank(query, hits)[:k]
        return hits[:k]

    def _dedupe(
        self,
        snapshot: IndexSnapshot,
        order: list[int],
        fused: dict[int, float],
        dense: dict[int, float],
        sparse: dict[int, float],
        limit: int,
    ) -> list[SearchHit]:
        """Drop a hit whose words are mostly inside a better hit (overlapping windows, copies)."""
        kept: list[SearchHit] = []
        kept_words: list[set[str]] = []
        for row in order:
            chunk = snapshot.chunks[row]
            words = _words(chunk.text)
            if any(
                words and len(words & other) / len(words) >= self.dedupe_overlap
                for other in kept_words
            ):
                continue
            kept.append(SearchHit(chunk, fused[row], dense.get(row), sparse.get(row)))
            kept_words.append(words)
            if len(kept) >= limit:
                break
        return kept

    def _rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        assert self.reranker is not None
        scores = self.reranker.predict([(query, h.chunk.embed_text()) for h in hits])
        for h, s in zip(hits, scores, strict=True):
            h.score = float(s)
        return sorted(hits, key=lambda h: -h.score)


def load_reranker(name_or_path: str) -> Any:
    """A sentence-transformers CrossEncoder; fails with ConfigError offline if missing."""
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(name_or_path)
    except Exception as exc:
        raise ConfigError(f"cannot load reranker {name_or_path!r}: {exc}") from exc
