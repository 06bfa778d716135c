"""Indexes at scale: flat (the exact reference), HNSW and IVF-PQ on 100k and 1M synthetic vectors.

The vectors are 384-d unit rows clustered like MiniLM sentence embeddings
(``bench/synthetic_vectors.py``; ``--real-index`` compares them with a real index's
vectors). Per size and type, each in fresh processes so memory figures are its own:

- build (``FaissIndex.build`` with the defaults ``plan_index`` gives that type at that
  size): seconds, peak RSS over the start, anonymous RSS held by the built index;
- load (``FaissIndex.load``, memory-mapped, as the service does): anonymous and
  file-backed RSS added, index bytes on disk;
- search (``FaissIndex.search``, one query at a time, k=10): p50/p99 ms on 1 FAISS thread
  and on the default threads, and recall@10 against the flat index's exact top 10;
  a sweep of the search-time knob (HNSW efSearch, IVF-PQ nprobe) on 1 thread.

Flat search over 1M rows is the slow part: ``--queries`` (default 200) bounds it. Prints
one JSON document and writes it to ``--out`` (default bench/results/index_scale.json)::

    nice -n 10 .venv/bin/python bench/index_scale.py --real-index var/index
    .venv/bin/python bench/index_scale.py --sizes 20000 --queries 50 --out /tmp/x.json
    .venv/bin/python bench/index_scale.py --sizes 1000000 --kinds flat ivfpq
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, percentile
from synthetic_vectors import Generator, Shape, calibrate

from assistant.index_plan import plan_index
from assistant.vectorstore import FaissIndex

K = 10
SWEEPS = {"hnsw": ("ef_search", [64, 128, 256]), "ivfpq": ("nprobe", [64, 128, 256, 512])}


def rss_mb() -> dict[str, float]:
    """VmRSS, RssAnon (private memory) and RssFile (mapped file pages) of this process, MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# --- child processes: one build, one load + search ---------------------------------------


def child_build(kind: str, vectors_path: Path, out: Path, threads: int) -> dict[str, Any]:
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)
    vectors = np.load(vectors_path, mmap_mode="r")
    n, dim = vectors.shape
    _, params = plan_index(kind, n, dim)
    before = rss_mb()
    t = time.perf_counter()
    index = FaissIndex.build(vectors, kind, params)
    seconds = time.perf_counter() - t
    after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index.save(out / f"{kind}.faiss")
    (out / f"{kind}.params.json").write_text(json.dumps(index.params))
    return {
        "seconds": round(seconds, 2),
        "peak_rss_over_start_mb": round(peak - before["VmRSS"], 1),
        "anon_rss_held_mb": round(after["RssAnon"] - before["RssAnon"], 1),
        "params": index.params,
        "threads": faiss.omp_get_max_threads(),
        "loadavg_1m": load_avg(),
    }


def timed_search(index: FaissIndex, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    ids = np.full((len(queries), K), -1, dtype=np.int64)
    ms = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        hits = index.search(q, K)
        ms.append((time.perf_counter() - t) * 1000)
        ids[i, : len(hits)] = [r for r, _ in hits]
    return ms, ids


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(float(np.mean(ms)), 3),
    }


def child_search(kind: str, vectors_path: Path, queries_path: Path, out: Path) -> dict[str, Any]:
    import faiss

    params = json.loads((out / f"{kind}.params.json").read_text())
    queries = np.load(queries_path)
    before = rss_mb()
    t = time.perf_counter()
    vectors = np.load(vectors_path, mmap_mode="r")
    index = FaissIndex.load(out / f"{kind}.faiss", kind, params, vectors)
    load_s = time.perf_counter() - t
    loaded = rss_mb()
    default_threads = faiss.omp_get_max_threads()
    timed_search(index, queries[:20])  # warm the page cache and the code paths
    faiss.omp_set_num_threads(1)
    one_ms, ids = timed_search(index, queries)
    np.save(out / f"{kind}.ids.npy", ids)
    faiss.omp_set_num_threads(default_threads)
    many_ms, _ = timed_search(index, queries)
    searched = rss_mb()
    result: dict[str, Any] = {
        "load_seconds": round(load_s, 3),
        "load_anon_rss_mb": round(loaded["RssAnon"] - before["RssAnon"], 1),
        "load_file_rss_mb": round(loaded["RssFile"] - before["RssFile"], 1),
        "after_search_anon_rss_mb": round(searched["RssAnon"] - before["RssAnon"], 1),
        "after_search_file_rss_mb": round(searched["RssFile"] - before["RssFile"], 1),
        "index_bytes": (out / f"{kind}.faiss").stat().st_size,
        "search_1_thread": summary(one_ms),
        f"search_{default_threads}_threads": summary(many_ms),
        "loadavg_1m": load_avg(),
    }
    if kind in SWEEPS:
        knob, values = SWEEPS[kind]
        faiss.omp_set_num_threads(1)
        result["sweep"] = []
        for value in values:
            index.params[knob] = value
            ms, swept = timed_search(index, queries)
            np.save(out / f"{kind}.{knob}{value}.ids.npy", swept)
            result["sweep"].append({knob: value, **summary(ms)})
    return result


# --- the parent: data, children, recall ----------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    hits = [len(set(f) & set(e)) / K for f, e in zip(found, exact, strict=True)]
    return round(float(np.mean(hits)), 4)


def one_size(
    n: int, kinds: list[str], shape: Shape, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    gen = Generator(shape)
    t = time.perf_counter()
    vectors_path = work / "embeddings.npy"
    gen.write(vectors_path, n)
    queries_path = work / "queries.npy"
    np.save(queries_path, gen.sample(args.queries, shape.seed + 10**6))
    result: dict[str, Any] = {"n": n, "generate_seconds": round(time.perf_counter() - t, 1)}
    result["embeddings_npy_bytes"] = vectors_path.stat().st_size
    if n > args.hnsw_max and "hnsw" in kinds:
        kinds = [k for k in kinds if k != "hnsw"]
        result["hnsw"] = {"skipped": f"n > --hnsw-max {args.hnsw_max}: see the 100k build rate"}
    for kind in ["flat", *[k for k in kinds if k != "flat"]]:  # flat first: the reference
        print(f"[index_scale] n={n} {kind}: build", file=sys.stderr, flush=True)
        build = run_child("build", kind, str(vectors_path), str(work), str(args.build_threads))
        print(f"[index_scale] n={n} {kind}: search", file=sys.stderr, flush=True)
        search = run_child("search", kind, str(vectors_path), str(queries_path), str(work))
        exact = np.load(work / "flat.ids.npy")
        search["recall_at_10"] = recall(np.load(work / f"{kind}.ids.npy"), exact)
        for row in search.get("sweep", []):
            knob, value = next(iter(row.items()))
            row["recall_at_10"] = recall(np.load(work / f"{kind}.{knob}{value}.ids.npy"), exact)
        result[kind] = {"build": build, **search}
        (work / f"{kind}.faiss").unlink()
    flat_p50 = result["flat"]["search_1_thread"]["p50_ms"]
    for kind in kinds:
        r = result[kind]
        r["p50_1_thread_vs_flat"] = round(r["search_1_thread"]["p50_ms"] / flat_p50, 4)
        r["index_bytes_vs_embeddings"] = round(r["index_bytes"] / result["embeddings_npy_bytes"], 3)
    vectors_path.unlink()
    return result


def real_vectors(path: Path) -> tuple[np.ndarray, int] | None:
    """(embeddings, number of sources) of a built index dir or version dir, if any."""
    from assistant.index import EMBEDDINGS, MANIFEST, Manifest, resolve_version_dir

    version_dir = path if (path / MANIFEST).is_file() else resolve_version_dir(path)[1]
    sources = len(Manifest.read(version_dir / MANIFEST).sources)
    return np.load(version_dir / EMBEDDINGS), sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivfpq"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--centres", type=int, default=Shape().centres)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--build-threads",
        type=int,
        default=1,
        help="FAISS threads for builds (0: FAISS default). 1 by default: on oversubscribed "
        "cores OpenMP barriers stall a 2-thread k-means or HNSW build many times over.",
    )
    ap.add_argument(
        "--hnsw-max", type=int, default=200_000, help="Skip HNSW above this many vectors."
    )
    ap.add_argument("--real-index", type=Path, help="An index (dir or version) to calibrate on.")
    ap.add_argument("--work-dir", type=Path, help="Keep files here (default: a temp dir).")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "index_scale.json")
    args = ap.parse_args()

    import faiss

    shape = Shape(centres=args.centres, seed=args.seed)
    doc: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "faiss": faiss.__version__,
            "faiss_threads": faiss.omp_get_max_threads(),
            "loadavg_1m_start": load_avg(),
        },
        "shape": {"dim": shape.dim, "centres": shape.centres, "alpha": shape.alpha,
                  "spread": shape.spread, "jitter": shape.jitter, "offset": shape.offset},
        "queries": args.queries,
        "k": K,
        "build_threads": args.build_threads,
    }  # fmt: skip
    if args.real_index is not None:
        real, sources = real_vectors(args.real_index)  # type: ignore[misc]
        doc["calibration"] = calibrate(real, shape, clusters=sources * 4)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="index-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    doc["sizes"] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for n in args.sizes:
            doc["sizes"].append(one_size(n, args.kinds, shape, args, work))
            # Each finished size is kept at once: a 1M run on shared cores can be cut short.
            args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    doc["machine"]["loadavg_1m_end"] = load_avg()
    doc["total_seconds"] = round(time.perf_counter() - t, 1)
    text = json.dumps(doc, indent=2)
    args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        step, kind, *paths = sys.argv[2:]
        if step == "build":
            res = child_build(kind, Path(paths[0]), Path(paths[1]), int(paths[2]))
        else:
            res = child_search(kind, Path(paths[0]), Path(paths[1]), Path(paths[2]))
        sys.stdout.write(json.dumps(res) + "\n")
    else:
        main()
