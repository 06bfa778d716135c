"""Synthetic sentence-embedding-like vectors for the index-scale benchmark.

Real MiniLM vectors are unit rows whose variance is spread unevenly over the 384
directions (a decaying spectrum) and that gather by topic. The generator draws
``centres`` topic centres and, around each, points at a per-cluster ``spread``, both
shaped by the same power-law spectrum (variance of direction i ~ i^-alpha, in a random
orthonormal basis), then normalises every row. ``calibrate`` compares its statistics with
a real index's ``embeddings.npy`` (pairwise and nearest-neighbour cosines, top-k variance
share) at the real index's size; ``bench/index_scale.py`` records both side by side.

Deterministic: the same seed, shape and block size give the same vectors, written block by
block into an ``.npy`` opened as a memory map (1M x 384 float32 is 1.5 GB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 65_536


@dataclass(frozen=True, slots=True)
class Shape:
    dim: int = 384
    centres: int = 4_000
    alpha: float = 0.9  # spectrum decay: variance of direction i ~ i^-alpha
    spread: float = 0.8  # median within-cluster std relative to the centres' std
    jitter: float = 0.2  # log-normal sigma of the per-cluster spread
    offset: float = 0.7  # a direction all rows share (real vectors are not centred)
    seed: int = 0


class Generator:
    """Rows ``normalise(centre[c] + spread * noise)``, ``c`` uniform over the centres."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        rng = np.random.default_rng(shape.seed)
        basis, _ = np.linalg.qr(rng.standard_normal((shape.dim, shape.dim)))
        scale = np.arange(1, shape.dim + 1, dtype=np.float64) ** (-shape.alpha / 2)
        self.mix = (scale[:, None] * basis.T).astype(np.float32)  # (dim, dim): z @ mix
        self.centres = rng.standard_normal((shape.centres, shape.dim)).astype(np.float32)
        self.centres = self.centres @ self.mix
        norm = float(np.sqrt((scale**2).sum()))
        shared = rng.standard_normal(shape.dim).astype(np.float32)
        self.centres += shape.offset * norm * shared / np.linalg.norm(shared)
        self.spreads = (shape.spread * rng.lognormal(0.0, shape.jitter, shape.centres)).astype(
            np.float32
        )

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        which = rng.integers(0, self.shape.centres, size=n)
        noise = rng.standard_normal((n, self.shape.dim)).astype(np.float32) @ self.mix
        x = self.centres[which] + self.spreads[which, None] * noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)

    def write(self, path: Path, n: int) -> np.ndarray:
        """``n`` rows into ``path`` (.npy), block by block; returns the file memory-mapped."""
        out = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.float32, shape=(n, self.shape.dim)
        )
        for b, start in enumerate(range(0, n, BLOCK)):
            out[start : start + BLOCK] = self.sample(min(BLOCK, n - start), self.shape.seed + 1 + b)
        out.flush()
        del out
        return np.load(path, mmap_mode="r")


def stats(x: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Cosine statistics of unit rows ``x``: nearest neighbour, random pairs, spectrum."""
    x = np.asarray(x, dtype=np.float32)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    nn = sims.max(axis=1)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), size=(2, 20_000))
    pairs = np.einsum("ij,ij->i", x[i[i != j]], x[j[i != j]])
    var = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
    share = np.cumsum(var) / var.sum()
    return {
        "n": len(x),
        "nn_cosine": {f"p{q}": round(float(np.percentile(nn, q)), 3) for q in (10, 50, 90)},
        "pair_cosine": {
            "mean": round(float(pairs.mean()), 3),
            "p90": round(float(np.percentile(pairs, 90)), 3),
        },
        "variance_share_top": {str(k): round(float(share[k - 1]), 3) for k in (10, 50, 100)},
    }


def calibrate(real: np.ndarray, shape: Shape, clusters: int) -> dict[str, Any]:
    """Real statistics beside the generator's at the real size, ``clusters`` topics."""
    small = Generator(
        Shape(
            shape.dim, clusters, shape.alpha, shape.spread, shape.jitter, shape.offset, shape.seed
        )
    )
    return {
        "real": stats(real),
        "synthetic_same_size": stats(small.sample(len(real), shape.seed + 999)),
        "clusters_at_real_size": clusters,
    }
