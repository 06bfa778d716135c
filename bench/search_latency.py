"""In-process search latency on a 10,000-chunk index: ``HybridRetriever.search`` plus the query embedding.

A deterministic synthetic corpus (``bench/common.py``, at least ``--chunks`` chunks) is
indexed by the real ``build_index``, once flat and once HNSW (the HNSW build reuses the
flat build's vectors). The 212 questions of ``corpus/eval`` are the queries; each is
timed from the text: ``embed_query`` (the real all-MiniLM-L6-v2) + ``HybridRetriever.search``
with the default settings, FAISS on one thread (``faiss.omp_set_num_threads(1)``).
Target: p50 <= 15 ms on 2 cores. Prints one JSON document with p50/p90/p99 per index
type, and the parts (embedding, dense, BM25, filtered searches).

Document vectors: with ``--embed pooled`` (the default) the real model embeds each real
paragraph of the notes once, and a chunk's vector is the normalised mean of the vectors of
the paragraphs its sentences come from, plus a little noise: vectors that sit where real
ones do, at a cost of seconds instead of embedding 10,000 chunks on a CPU (many minutes;
``--embed real`` does exactly that). Query vectors always come from the real model, so the
measured latency is the real one::

    .venv/bin/python bench/search_latency.py
    .venv/bin/python bench/search_latency.py --chunks 2000 --rounds 1
    .venv/bin/python bench/search_latency.py --torch-threads 1   # query embedding on 1 thread
    .venv/bin/python bench/search_latency.py --embed real        # slow on CPU
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import CORPUS, emit, machine, percentile, real_paragraphs, timed, write_synthetic_corpus

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluation import load_questions
from assistant.factory import make_retriever
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from indexing.build import BuildOptions, build_index

P50_TARGET_MS = 15.0
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class PooledEmbedder:
    """Documents: mean of real paragraph vectors their sentences come from; queries: real."""

    def __init__(self, real: SentenceTransformerEmbedder, seed: int = 0) -> None:
        self.real = real
        self.model_name = real.model_name
        self.dimension = real.dimension
        self.max_seq_length = real.max_seq_length
        self.tokenizer = real.tokenizer
        paragraphs = [p for _, p in real_paragraphs()]
        self.pool = real.embed_documents(paragraphs)  # (P, dim)
        self.owner = {s: i for i, p in enumerate(paragraphs) for s in _SENTENCE.split(p)}
        self.rng = np.random.default_rng(seed)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            rows = [self.owner[s] for s in _SENTENCE.split(text) if s in self.owner]
            base = self.pool[rows].mean(axis=0) if rows else self.pool.mean(axis=0)
            v = base + self.rng.normal(0, 0.02, self.dimension).astype(np.float32)
            out[row] = v / np.linalg.norm(v)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.real.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)


def stats_ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
        "mean": round(float(np.mean(ms)), 3),
    }


def measure(
    queries: list[str], rounds: int, fns: dict[str, Callable[[str], Any]]
) -> dict[str, dict[str, float]]:
    """p50/p90/p99 per function; calls interleave per query so load drift hits all alike."""
    for q in queries[:20]:
        for fn in fns.values():
            fn(q)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for q in queries:
            for name, fn in fns.items():
                t = time.perf_counter()
                fn(q)
                samples[name].append(time.perf_counter() - t)
    return {name: stats_ms(s) for name, s in samples.items()}


def searches(
    snap: IndexSnapshot, embedder: SentenceTransformerEmbedder, vectors: dict[str, np.ndarray]
) -> dict[str, Callable[[str], Any]]:
    """What is timed on one index: end to end, then the parts."""
    retriever = make_retriever(Settings.model_construct())  # the field defaults
    source = [snap.chunks[0].source]
    return {
        "end_to_end": lambda q: retriever.search(snap, q, embedder.embed_query(q), 5),
        "search_only": lambda q: retriever.search(snap, q, vectors[q], 5),
        "dense_only": lambda q: retriever.search(snap, q, vectors[q], 5, mode="dense"),
        "bm25_only": lambda q: retriever.search(snap, q, vectors[q], 5, mode="bm25"),
        "search_phase_filter": lambda q: retriever.search(snap, q, vectors[q], 5, phases=[3]),
        "search_source_filter": lambda q: retriever.search(snap, q, vectors[q], 5, sources=source),
    }


def run(
    chunks: int, rounds: int, embed: str, work: Path, seed: int, torch_threads: int | None
) -> dict[str, Any]:
    import faiss
    import torch

    faiss.omp_set_num_threads(1)
    if torch_threads:
        torch.set_num_threads(torch_threads)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    t: dict[str, float] = {}
    real = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    corpus = work / "corpus"
    with timed(t, "generate"):
        counts = write_synthetic_corpus(corpus, chunks, real.tokenizer, seed=seed)
    with timed(t, "embedder"):
        doc_embedder: Any = PooledEmbedder(real, seed) if embed == "pooled" else real
    snaps: dict[str, IndexSnapshot] = {}
    embedded: dict[str, int] = {}
    for kind in ("flat", "hnsw"):
        index_dir = work / f"index-{kind}"
        if kind == "hnsw":  # the same vectors: only the FAISS structure is rebuilt
            shutil.copytree(work / "index-flat", index_dir)
        with timed(t, f"build_{kind}"):
            report = build_index(
                BuildOptions(corpus=corpus, index_dir=index_dir, index_type=kind), doc_embedder
            )
        snaps[kind] = IndexSnapshot.load(index_dir, model_name=real.model_name)
        assert snaps[kind].manifest.index_type == kind
        embedded[kind] = report.embedded

    queries = [q.question for q in load_questions(CORPUS / "eval")]
    vectors = {q: real.embed_query(q) for q in queries}
    fns: dict[str, Callable[[str], Any]] = {"embed_query": real.embed_query}
    for kind, snap in snaps.items():
        fns |= {f"{kind}.{name}": fn for name, fn in searches(snap, real, vectors).items()}
    load_before = machine()["loadavg_1m"]
    stats = measure(queries, rounds, fns)
    by_kind: dict[str, Any] = {
        kind: {
            "embedded_in_build": embedded[kind],
            **{n.split(".", 1)[1]: v for n, v in stats.items() if n.startswith(f"{kind}.")},
        }
        for kind in snaps
    }
    p50 = {kind: v["end_to_end"]["p50"] for kind, v in by_kind.items()}
    return {
        "benchmark": "search_latency",
        "machine": {**machine(), "loadavg_1m_before": load_before},
        "faiss_omp_threads": 1,
        "document_vectors": embed,
        "corpus": counts,
        "chunks": len(snaps["flat"].chunks),
        "queries": len(queries),
        "rounds": rounds,
        "k": 5,
        "embed_query": stats["embed_query"],
        "by_index_type": by_kind,
        "targets": {f"{k}_p50<={P50_TARGET_MS}ms": v <= P50_TARGET_MS for k, v in p50.items()},
        "seconds": t,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="Minimum chunks to index.")
    parser.add_argument("--rounds", type=int, default=2, help="Passes over the 212 questions.")
    parser.add_argument("--embed", choices=["pooled", "real"], default="pooled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, help="Keep corpus and index here.")
    parser.add_argument(
        "--torch-threads", type=int, help="torch intra-op threads for the query embedding."
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        emit(run(args.chunks, args.rounds, args.embed, work, args.seed, args.torch_threads))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
