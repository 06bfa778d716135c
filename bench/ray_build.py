"""The same index build by the local engine and by the Ray engine, side by side.

Writes a deterministic synthetic corpus (``bench/common.py``), then builds it from scratch
twice into separate index folders: (a) the local engine, in this process; (b) the Ray
engine on a Ray instance started here (``ray.init(num_cpus=--cpus)``: the head node of a
one-machine cluster, one embedding actor per CPU), or on ``--address``. Each build's time
includes loading the model (the local engine loads it lazily during the build; each Ray
actor loads its own); Ray's start-up is timed apart. Besides wall time, the CPU seconds
each build used: this process and every process below it (Ray's GCS, raylet, workers and
actors are descendants of a Ray started here), sampled every 0.2 s: a figure a shared
machine's load moves far less than wall time. Checks that both
published the same chunks and vectors (max absolute difference). Prints one JSON document::

    .venv/bin/python bench/ray_build.py                   # 1,000 chunks, temp dir
    .venv/bin/python bench/ray_build.py --chunks 300 --cpus 2
    .venv/bin/python bench/ray_build.py --address HEAD:6379   # an existing cluster
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import threading
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from common import emit, machine, timed, write_synthetic_corpus

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.index import CHUNKS, EMBEDDINGS, load_embeddings, read_chunks, resolve_version_dir
from indexing.build import BuildOptions, build_index


def published(index_dir: Path) -> tuple[list[Any], np.ndarray]:
    _, path = resolve_version_dir(index_dir)
    return read_chunks(path / CHUNKS), load_embeddings(path / EMBEDDINGS)


class TreeCpu:
    """CPU seconds (user + system) used by this process and its descendants while open.

    Sampled every 0.2 s from a thread, keeping each process's last reading: Ray's GCS,
    raylet, workers and actors are descendants of a Ray started here, and an actor killed
    at the end of the embed stage is counted up to its last sample.
    """

    def __init__(self) -> None:
        self.base: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[tuple[int, float], float]:
        me = psutil.Process()
        out = {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                out[(proc.pid, proc.create_time())] = t.user + t.system
            except psutil.Error:
                continue
        return out

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.last.update(self._sample())

    def __enter__(self) -> TreeCpu:
        self.base = self._sample()
        self.last = dict(self.base)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.last.update(self._sample())

    @property
    def seconds(self) -> float:
        return sum(v - self.base.get(k, 0.0) for k, v in self.last.items())


def run(
    chunks: int, seed: int, work: Path, model: str, cpus: int, address: str | None
) -> dict[str, Any]:
    import ray

    from indexing.ray_engine import RayEngine

    t: dict[str, float] = {}
    embedder = SentenceTransformerEmbedder(model)  # tokenizer only: the model loads in the build
    corpus = work / "corpus"
    counts = write_synthetic_corpus(corpus, chunks, embedder.tokenizer, seed=seed)
    with TreeCpu() as local_cpu, timed(t, "local_build"):
        local = build_index(BuildOptions(corpus=corpus, index_dir=work / "local"), embedder)
    with timed(t, "ray_start"):
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
    resources = ray.cluster_resources()
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    engine = RayEngine(partial(SentenceTransformerEmbedder, model))
    with TreeCpu() as ray_cpu, timed(t, "ray_build"):
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
        "local": {
            "seconds": t["local_build"],
            "cpu_seconds": round(local_cpu.seconds, 1),
            "stages": local.seconds,
            "embedded": local.embedded,
        },
        "ray": {
            "seconds": t["ray_build"],
            "cpu_seconds": round(ray_cpu.seconds, 1),
            "start_seconds": t["ray_start"],
            "stages": remote.seconds,
            "embedded": remote.embedded,
        },
        "ratio_ray_vs_local": round(t["ray_build"] / t["local_build"], 2),
        "cpu_ratio_ray_vs_local": round(ray_cpu.seconds / local_cpu.seconds, 2),
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
