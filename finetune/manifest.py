"""Write the topics-recipe dataset: training pairs, held-out pairs, and a data manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.index import sha256_file
from finetune.corpus_pairs import Retriever
from finetune.data import write_pairs
from finetune.dataset import build_dataset


def heldout_path(out: Path) -> Path:
    return out.with_name(out.stem + ".heldout.jsonl")


def manifest_path(out: Path) -> Path:
    return out.with_name(out.stem + ".manifest.json")


def write_dataset(
    corpus: Path,
    out: Path,
    retrieve: Retriever | None,
    k: int,
    index_version: str | None,
    curated: Path | None,
) -> dict[str, Any]:
    """Build and write; return the manifest (also written next to ``out``) plus a summary text."""
    pairs, heldout, report = build_dataset(corpus, retrieve=retrieve, k=k, curated=curated)
    write_pairs(out, pairs)
    write_pairs(heldout_path(out), heldout)
    manifest = {
        "pairs": str(out),
        "pairs_sha256": sha256_file(out),
        "heldout_pairs_file": str(heldout_path(out)),
        "index_version": index_version,
        "corpus": str(corpus),
        **report.to_json(),
    }
    manifest_path(out).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    origins = ", ".join(f"{k} {v}" for k, v in sorted(report.by_origin.items()))
    text = "\n".join(
        [
            f"wrote {report.total} training pairs to {out}",
            f"  by origin: {origins}",
            f"  held out: {len(report.heldout_topics)} topics, {report.heldout_pairs} pairs "
            f"in {heldout_path(out)} (never trained on)",
            f"  passages: up to {report.passages_per_pair} retrieved per pair (index "
            f"{index_version}); {report.gold_inserted} supporting passages put first, "
            f"{report.heldout_passages_dropped} held-out passages dropped",
            f"  manifest: {manifest_path(out)}",
        ]
    )
    return {**manifest, "text": text}
