"""The same index build by the local engine and by the Ray engine, side by side.

Writes a deterministic synthetic corpus (``bench/common.py``), then builds it from scratch
twice into separate index folders: (a) the local engine, in this process; (b) the Ray
engine on a Ray instance started here (``ray.init(num_cpus=--cpus)``: the head node of a
one-machine cluster, one embedding actor per CPU), or on ``--address``. Each build's time
includes loading the model (the local engine loads it lazily during the build; each Ray
actor loads its own); Ray's start-up is timed apart. Checks that both published the same
chunks and vectors (max absolute difference). Prints one JSON document::

    .venv/bin/python bench/ray_build.py                   # 1,000 chunks, temp dir
    .venv/bin/python bench/ray_build.py --chunks 300 --cpus 2
    .venv/bin/python bench/ray_build.py --address HEAD:6379   # an existing cluster
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from common import emit, machine, timed, write_synthetic_corpus

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.index import CHUNKS, EMBEDDINGS, load_embeddings, read_chunks, resolve_version_dir
from indexing.build import BuildOptions, build_index


def published(index_dir: Path) -> tuple[list[Any], np.ndarray]:
    _, path = resolve_version_dir(index_dir)
    return read_chunks(path / CHUNKS), load_embeddings(path / EMBEDDINGS)


def run(
    chunks: int, seed: int, work: Path, model: str, cpus: int, address: str | None
) -> dict[str, Any]:
    import ray

    from indexing.ray_engine import RayEngine

    t: dict[str, float] = {}
    embedder = SentenceTransformerEmbedder(model)  # tokenizer only: the model loads in the build
    corpus = work / "corpus"
    counts = write_synthetic_corpus(corpus, chunks, embedder.tokenizer, seed=seed)
    with timed(t, "local_build"):
        local = build_index(BuildOptions(corpus=corpus, index_dir=work / "local"), embedder)
    with timed(t, "ray_start"):
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
    resources = ray.cluster_resources()
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    engine = RayEngine(partial(SentenceTransformerEmbedder, model))
    with timed(t, "ray_build"):
        remote = build_index(
            BuildOptions(corpus=corpus, index_dir=work / "ray"),
            SentenceTransformerEmbedder(model),
            engine=engine,
        )
    ray.shutdown()
    local_chunks, local_vectors = published(work / "local")
    ray_chunks, ray_vectors = published(work / "ray")
    return {
        "benchmark": "ray_build",
        "corpus": {**counts, "seed": seed},
        "ray_cluster": {
            "address": address or "local (started here)",
            "cpus": resources.get("CPU", 0),
            "gpus": resources.get("GPU", 0),
            "nodes": nodes,
        },
        "local": {"seconds": t["local_build"], "stages": local.seconds, "embedded": local.embedded},
        "ray": {
            "seconds": t["ray_build"],
            "start_seconds": t["ray_start"],
            "stages": remote.seconds,
            "embedded": remote.embedded,
        },
        "ratio_ray_vs_local": round(t["ray_build"] / t["local_build"], 2),
        "ratio_ray_with_start_vs_local": round(
            (t["ray_build"] + t["ray_start"]) / t["local_build"], 2
        ),
        "same_chunks": ray_chunks == local_chunks,
        "max_abs_vector_diff": float(np.abs(ray_vectors - local_vectors).max()),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the Ray instance started here")
    parser.add_argument("--address", help="an existing Ray cluster instead")
    parser.add_argument("--work-dir", type=Path, help="keep corpus and indexes here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ray-build-bench-"))
    try:
        emit(run(args.chunks, args.seed, work, args.model, args.cpus, args.address))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
