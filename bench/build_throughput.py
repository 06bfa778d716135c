"""Index build throughput: the pipeline against raw ``SentenceTransformer.encode``, and a rebuild.

Writes a deterministic synthetic corpus (``bench/common.py``: the real notes recombined,
at least ``--chunks`` chunks), then in one process, with one loaded model:

(a) raw: ``encode`` on exactly the texts the pipeline embeds (same order, same batch
    size), before and after the build so load drift shows;
(b) pipeline: ``build_index`` from scratch: chunks/s over the whole build and over its
    embed stage, and the ratio pipeline/raw (target >= 0.85);
(c) rebuild after one file changes: seconds (target <= 10% of the full build) and how
    many chunks were re-embedded (target: only the changed ones).

Prints one JSON document::

    .venv/bin/python bench/build_throughput.py                  # 2,000 chunks, temp dir
    .venv/bin/python bench/build_throughput.py --chunks 500     # quicker
    .venv/bin/python bench/build_throughput.py --grouped        # also raw in the pipeline's groups
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from common import edit_one_file, emit, machine, timed, write_synthetic_corpus

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.index import CHUNKS, read_chunks, resolve_version_dir
from indexing.build import BuildOptions, build_index
from indexing.chunking import TokenChunker
from indexing.embed_stage import EMBED_BATCH
from indexing.loaders import load_file
from indexing.sources import resolve_sources

RATIO_TARGET = 0.85
REBUILD_TARGET = 0.10


def pipeline_texts(corpus: Path, embedder: SentenceTransformerEmbedder) -> list[str]:
    """The texts a fresh build embeds, in its order: one per distinct content hash."""
    items = resolve_sources(corpus).items
    docs = [load_file(i.path, i.source, max_bytes=10_000_000) for i in items if i.path]
    chunks = TokenChunker(embedder.tokenizer, 200, 32).chunk_all(docs)
    seen: dict[str, str] = {}
    for c in chunks:
        seen.setdefault(c.content_hash, c.embed_text())
    return list(seen.values())


def published_hashes(index_dir: Path) -> set[str]:
    _, path = resolve_version_dir(index_dir)
    return {c.content_hash for c in read_chunks(path / CHUNKS)}


def raw_encode(embedder: SentenceTransformerEmbedder, texts: list[str], group: int) -> None:
    """``SentenceTransformer.encode`` as the embedder calls it, ``group`` texts per call."""
    model = embedder._load()  # the very model object the pipeline uses (loaded on first use)
    for start in range(0, len(texts), group):
        model.encode(
            texts[start : start + group],
            batch_size=embedder.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def run(chunks: int, seed: int, work: Path, grouped: bool, model: str) -> dict[str, Any]:
    t: dict[str, float] = {}
    with timed(t, "model_load"):
        embedder = SentenceTransformerEmbedder(model)
    corpus, index_dir = work / "corpus", work / "index"
    with timed(t, "generate"):
        counts = write_synthetic_corpus(corpus, chunks, embedder.tokenizer, seed=seed)
    texts = pipeline_texts(corpus, embedder)
    raw_encode(embedder, texts[:64], len(texts))  # warm-up: first calls allocate

    with timed(t, "raw_before"):
        raw_encode(embedder, texts, len(texts))
    if grouped:
        with timed(t, "raw_grouped"):
            raw_encode(embedder, texts, EMBED_BATCH)
    with timed(t, "build"):
        full = build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)
    with timed(t, "raw_after"):
        raw_encode(embedder, texts, len(texts))
    _, path = resolve_version_dir(index_dir)
    published = {c.embed_text() for c in read_chunks(path / CHUNKS)}
    assert published == set(texts), "raw encode did not see the pipeline's texts"
    before = published_hashes(index_dir)
    changed = edit_one_file(corpus)
    with timed(t, "rebuild"):
        again = build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)
    new_hashes = published_hashes(index_dir) - before  # chunks whose embedded text changed

    raw_s = (t["raw_before"] + t["raw_after"]) / 2
    n = len(texts)
    ratio_total = raw_s / full.seconds["total"]
    ratio_embed = raw_s / full.seconds["embed"]
    rebuild_fraction = again.seconds["total"] / full.seconds["total"]
    grouped_stats = (
        {
            "seconds_in_pipeline_groups": t["raw_grouped"],
            "chunks_per_s_in_groups": round(n / t["raw_grouped"], 2),
        }
        if grouped
        else {}
    )
    return {
        "benchmark": "build_throughput",
        "machine": machine(),
        "model": model,
        "batch_size": embedder.batch_size,
        "corpus": counts,
        "chunks": full.chunks,
        "embedded_texts": n,
        "embed_tokens": full.embed_tokens,
        "raw_encode": {
            "seconds_before": t["raw_before"],
            "seconds_after": t["raw_after"],
            "chunks_per_s": round(n / raw_s, 2),
            **grouped_stats,
        },
        "pipeline": {
            "seconds": full.seconds,
            "chunks_per_s_total": round(full.chunks / full.seconds["total"], 2),
            "chunks_per_s_embed": round(full.embedded / full.seconds["embed"], 2),
            "ratio_total_vs_raw": round(ratio_total, 3),
            "ratio_embed_vs_raw": round(ratio_embed, 3),
        },
        "rebuild": {
            "changed_file": changed,
            "seconds": again.seconds,
            "chunks_changed": len(new_hashes),
            "embedded": again.embedded,
            "unchanged_reembedded": again.embedded - len(new_hashes),
            "reused": again.reused,
            "fraction_of_full_build": round(rebuild_fraction, 4),
        },
        "targets": {
            f"ratio_total_vs_raw>={RATIO_TARGET}": ratio_total >= RATIO_TARGET,
            f"rebuild<={REBUILD_TARGET:.0%}_of_full": rebuild_fraction <= REBUILD_TARGET,
            "rebuild_reembeds_only_changed": again.embedded == len(new_hashes) > 0,
        },
        "seconds": t,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=2000, help="Minimum chunks to generate.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--work-dir", type=Path, help="Keep corpus and index here.")
    parser.add_argument("--grouped", action="store_true", help="Also time raw per-group encode.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        emit(run(args.chunks, args.seed, work, args.grouped, args.model))
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
