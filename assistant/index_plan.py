"""Which FAISS index a build makes, and with which parameters, from the number of chunks.

``plan_index`` returns the kind and one flat dict of every parameter the index is built
and searched with, the thresholds that chose it included; the build writes that dict into
the manifest (``index_params``) and the service reads it back, so a replica searches with
the nprobe/efSearch the index was built and measured for. The defaults were chosen with
``bench/index_scale.py`` (384-d clustered unit vectors, 100k and 1M): see README
"Indexes at scale".

- ``flat``: exact inner product; below ``hnsw_threshold`` chunks.
- ``hnsw``: graph search over the full vectors; up to ``ivfpq_threshold``.
- ``ivfpq``: inverted lists of product-quantised codes (``m`` bytes a vector), trained on
  a seeded sample; the shortlist of ``k_factor * k`` rows is re-scored exactly from the
  version's ``embeddings.npy`` (memory-mapped), so scores are true cosines.
"""

from __future__ import annotations

import math
from typing import Any

from assistant.errors import BadInputError

KINDS = ("flat", "hnsw", "ivfpq")
INDEX_TYPES = ("auto", *KINDS)

HNSW_THRESHOLD = 50_000
IVFPQ_THRESHOLD = 1_000_000
# A filter that leaves at most this many rows is scored exactly from the stored vectors
# (a graph or list probe restricted to a few rows finds too few of them).
FILTER_EXACT_ROWS = 20_000

HNSW_M = 32  # graph degree: 32 is the usual recall/memory balance for 384-768 dims
# 100k clustered 384-d vectors, recall@10 at efSearch 128: 0.990 built at 100, 0.998 at 200,
# for a build 7.7x faster (121 s vs 928 s, 2 threads on 2 shared cores; the synthetic
# vectors of bench/synthetic_vectors.py).
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 128

IVF_LISTS_PER_SQRT_N = 4  # nlist ~ 4 * sqrt(N): about 4,000 lists at 1M vectors
IVF_MIN_POINTS_PER_LIST = 39  # FAISS k-means wants >= 39 training points per centroid
IVF_TRAIN_MIN = 50_000
IVF_TRAIN_SEED = 1234
IVF_KMEANS_NITER = 10  # k-means iterations, coarse and PQ (FAISS default 25)
PQ_SUBVECTOR_DIMS = 8  # 384 dims -> m = 48 sub-quantizers, 48 bytes a vector
PQ_NBITS = 8
IVF_NPROBE = 256
IVF_K_FACTOR = 10  # shortlist = k_factor * k rows, re-scored exactly


def check_index_type(index_type: str) -> str:
    if index_type not in INDEX_TYPES:
        raise BadInputError(
            f"index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}"
        )
    return index_type


def choose_index_type(
    index_type: str,
    n_vectors: int,
    hnsw_threshold: int = HNSW_THRESHOLD,
    ivfpq_threshold: int = IVFPQ_THRESHOLD,
) -> str:
    """The kind ``auto`` resolves to for ``n_vectors`` (any other kind is kept as asked)."""
    if check_index_type(index_type) != "auto":
        return index_type
    if n_vectors >= ivfpq_threshold:
        return "ivfpq"
    return "hnsw" if n_vectors >= hnsw_threshold else "flat"


def _pq_m(dim: int) -> int:
    """Sub-quantizers: ~8 dims each, and a divisor of ``dim`` (PQ splits it evenly)."""
    target = max(1, dim // PQ_SUBVECTOR_DIMS)
    return max(m for m in range(1, target + 1) if dim % m == 0)


def ivfpq_params(n_vectors: int, dim: int) -> dict[str, Any]:
    """IVF-PQ parameters for ``n_vectors`` rows of ``dim``, scaled down for small sets."""
    n = max(1, n_vectors)
    nlist = max(1, min(round(IVF_LISTS_PER_SQRT_N * math.sqrt(n)), n // IVF_MIN_POINTS_PER_LIST))
    train = min(n, max(IVF_MIN_POINTS_PER_LIST * nlist, IVF_TRAIN_MIN))
    # k-means needs at least as many points as centroids: 2**nbits <= training rows.
    nbits = max(1, min(PQ_NBITS, int(math.log2(train))))
    return {
        "nlist": nlist,
        "m": _pq_m(dim),
        "nbits": nbits,
        "nprobe": min(IVF_NPROBE, nlist),
        "k_factor": IVF_K_FACTOR,
        "train_size": train,
        "train_seed": IVF_TRAIN_SEED,
        "kmeans_niter": IVF_KMEANS_NITER,
        "metric": "inner_product",
        "spherical": True,
        "rerank": "embeddings.npy",
    }


def kind_params(kind: str, n_vectors: int, dim: int) -> dict[str, Any]:
    """The build and search parameters of one index kind (its defaults)."""
    if kind == "flat":
        return {}
    if kind == "hnsw":
        return {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH}
    if kind == "ivfpq":
        return ivfpq_params(n_vectors, dim)
    raise BadInputError(f"index type must be one of {', '.join(KINDS)}, got {kind!r}")


def plan_index(
    index_type: str,
    n_vectors: int,
    dim: int,
    *,
    hnsw_threshold: int = HNSW_THRESHOLD,
    ivfpq_threshold: int = IVFPQ_THRESHOLD,
    overrides: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(kind, params): everything the manifest records about the dense index."""
    kind = choose_index_type(index_type, n_vectors, hnsw_threshold, ivfpq_threshold)
    params: dict[str, Any] = {
        "requested": index_type,
        "hnsw_threshold": hnsw_threshold,
        "ivfpq_threshold": ivfpq_threshold,
        "filter_exact_rows": FILTER_EXACT_ROWS,
        **kind_params(kind, n_vectors, dim),
    }
    for key, value in (overrides or {}).items():
        if key not in params:
            raise BadInputError(
                f"index parameter {key!r} does not apply to a {kind} index "
                f"(it takes {', '.join(sorted(params))})"
            )
        params[key] = value
    return kind, params


def search_params(kind: str, params: dict[str, Any], n_vectors: int, dim: int) -> dict[str, Any]:
    """The recorded params over the kind's defaults: an older manifest lacks the new fields."""
    if kind not in KINDS:
        raise BadInputError(f"index type must be one of {', '.join(KINDS)}, got {kind!r}")
    return {"filter_exact_rows": FILTER_EXACT_ROWS, **kind_params(kind, n_vectors, dim), **params}
