"""`assistant index build` wall time from the shell: full build, no-change rebuild, one file changed.

A synthetic corpus (``bench/common.py``, at least ``--chunks`` chunks) is built by the
real console command in a fresh process each time (process start, imports, model load
included, as a user sees it), per backend, in one run: (1) a full build, (2) the same
command again with nothing changed, (3) after one file gets a new paragraph. Prints
JSON with the three wall times per backend and the ratios rebuild/full::

    .venv/bin/python bench/rebuild_wall.py                       # 1,000 chunks
    .venv/bin/python bench/rebuild_wall.py --chunks 300 --backends onnx-int8
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

from common import REPO, edit_one_file, emit, machine, write_synthetic_corpus

from assistant.factory import make_embedder
from assistant.settings import Settings

ASSISTANT = Path(sys.executable).parent / "assistant"
TARGET_S = 2.0


CPU_S: list[float] = []  # user + system seconds of each build process, in call order


def _build(corpus: Path, index_dir: Path, backend: str) -> tuple[float, dict[str, Any]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ASSISTANT_EMBEDDING_BACKEND": backend,
        "ASSISTANT_DATABASE_URL": f"sqlite:///{index_dir.parent / 'ledger.db'}",
    }
    cmd = [str(ASSISTANT), "index", "build", "--corpus", str(corpus)]
    cmd += ["--index-dir", str(index_dir), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # On a shared machine wall time measures the queue for the CPU; CPU time does not.
    CPU_S.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def run(chunks: int, backends: list[str], work: Path) -> dict[str, Any]:
    template = work / "template"
    tokenizer = make_embedder(Settings(embedding_backend="onnx")).tokenizer
    counts = write_synthetic_corpus(template, chunks, tokenizer, seed=0)
    out: dict[str, Any] = {"machine": machine(), "corpus": counts, "backends": {}}
    for backend in backends:
        corpus = work / f"corpus-{backend}"
        shutil.copytree(template, corpus)
        index_dir = work / f"index-{backend}"
        full_s, full = _build(corpus, index_dir, backend)
        same_s, same = _build(corpus, index_dir, backend)
        edit_one_file(corpus)
        one_s, one = _build(corpus, index_dir, backend)
        out["backends"][backend] = {
            "full_build_s": round(full_s, 2),
            "no_change_rebuild_s": round(same_s, 2),
            "one_file_rebuild_s": round(one_s, 2),
            "ratio_no_change_to_full": round(same_s / full_s, 3),
            "ratio_one_file_to_full": round(one_s / full_s, 3),
            "chunks": full["chunks"],
            "embedded": {"full": full["embedded"], "no_change": same["embedded"]}
            | {"one_file": one["embedded"]},
            "inside_seconds": {"full": full["seconds"], "one_file": one["seconds"]},
            "cpu_s": {"full": round(CPU_S[-3], 2), "no_change": round(CPU_S[-2], 2)}
            | {"one_file": round(CPU_S[-1], 2)},
            "one_file_meets_2s_target": one_s <= TARGET_S,
        }
    out["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--backends", default="onnx-int8,torch")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rebuild-wall-") as tmp:
        emit(run(args.chunks, args.backends.split(","), Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
