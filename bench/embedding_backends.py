"""Embedding backends side by side: torch vs ONNX float32 vs ONNX int8, on held-out docs.

The pages of ``bench/data/heldout_python_docs_pages.txt`` (Debian's python3.11-doc) are
indexed by the real ``build_index`` once per backend, in one process, one after the
other; every backend embeds the very same chunks. For each backend the JSON gives the
embed stage's chunks/s, the ratio to torch, the cosine of its vectors to torch's (min,
p1, mean), and hit_rate@5 / recall@5 / MRR of the held-out questions (written and paraphrased) with
dense retrieval alone and with the default hybrid, so quality is compared where it is
used. The ONNX exports are made (once) before any timing::

    .venv/bin/python bench/embedding_backends.py
    .venv/bin/python bench/embedding_backends.py --pages 10 --backends torch,onnx-int8
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import emit, machine
from heldout_docs import KINDS, Scorer, copy_pages, read_heldout, read_pages

from assistant.evaluation import retrieval_metrics
from assistant.factory import make_embedder, make_retriever
from assistant.index import EMBEDDINGS, load_embeddings, resolve_version_dir
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from indexing.build import BuildOptions, build_index

BACKENDS = ("torch", "onnx", "onnx-int8")


def _quality(snapshot: IndexSnapshot, embedder: Any, settings: Settings) -> dict[str, Any]:
    retriever = make_retriever(settings)
    heldout = read_heldout()
    pages = set(read_pages())
    out: dict[str, Any] = {}
    for kind in KINDS:
        qs = [h.as_question(kind) for h in heldout if h.source in pages]
        scorer = Scorer(snapshot, embedder, qs)
        for mode in ("dense", "hybrid"):
            m = retrieval_metrics(scorer.ranked(retriever, mode), 5)
            keys = ("hit_rate@5", "recall@5", "mrr")  # hit_rate@5: "recall@5" before ranx
            out[f"{kind}_{mode}"] = {k: round(m[k], 4) for k in keys}
    return out


def run(backends: list[str], n_pages: int | None, workdir: Path) -> dict[str, Any]:
    corpus = copy_pages(workdir / "corpus")
    if n_pages:  # a subset: drop the other pages
        for rel in read_pages()[n_pages:]:
            (corpus / rel).unlink()
    results: dict[str, Any] = {}
    vectors: dict[str, np.ndarray] = {}
    for backend in backends:
        settings = Settings(embedding_backend=backend)  # type: ignore[arg-type]
        embedder = make_embedder(settings)
        # Loads the model (ONNX: exports/quantises it once) outside the timing.
        embedder.embed_documents(["warm up"])
        index_dir = workdir / f"index-{backend}"
        t = time.perf_counter()
        report = build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)
        wall = time.perf_counter() - t
        _, path = resolve_version_dir(index_dir)
        vectors[backend] = load_embeddings(path / EMBEDDINGS)
        snap = IndexSnapshot.load(index_dir, model_name=embedder.model_name, backend=backend)
        results[backend] = {
            "chunks": report.chunks,
            "embed_s": report.seconds["embed"],
            "build_s": round(wall, 2),
            "embed_chunks_per_s": round(report.chunks / report.seconds["embed"], 1),
            "quality": _quality(snap, embedder, settings),
        }
        print(f"{backend}: {results[backend]}", file=sys.stderr)
    ref = "torch" if "torch" in results else backends[0]
    for backend, r in results.items():
        cos = (vectors[backend] * vectors[ref]).sum(axis=1)
        r["cosine_to_" + ref] = {
            "min": round(float(cos.min()), 4),
            "p1": round(float(np.percentile(cos, 1)), 4),
            "mean": round(float(cos.mean()), 4),
        }
        r["speed_ratio_to_" + ref] = round(
            r["embed_chunks_per_s"] / results[ref]["embed_chunks_per_s"], 2
        )
        r["hit_rate_delta_to_" + ref] = {
            q: round(v["hit_rate@5"] - results[ref]["quality"][q]["hit_rate@5"], 4)
            for q, v in r["quality"].items()
        }
    return {"machine": machine(), "pages": len(read_pages()[:n_pages]), "backends": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--pages", type=int, help="only the first N pages (quicker)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="embed-backends-") as tmp:
        emit(run(args.backends.split(","), args.pages, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
