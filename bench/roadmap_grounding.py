"""Roadmap grounding: is the roadmap's own section among the top 5 passages? Before vs after.

For every roadmap question (``bench/data/roadmap_questions.jsonl``, written for tuning;
also the roadmap questions of ``corpus/eval`` and of the held-out answer set, reported
apart), "before" is plain retrieval (the service's hybrid search, top 5) and "after" is the
same hits through the relevance filter and ``assistant.grounding.Grounding`` (the first 5
passages). A hit counts when it comes from ``roadmap.md`` under the expected phase heading.
For "what should I study after X" questions it also checks that the extractive answer names
the next phase. Prints JSON.

    .venv/bin/python bench/roadmap_grounding.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere

from bench.answer_pipeline import DEFAULT_INDEX, Pipeline, load_jsonl  # noqa: E402
from bench.common import CORPUS  # noqa: E402

TUNING = REPO / "bench" / "data" / "roadmap_questions.jsonl"
HELDOUT = CORPUS / "eval" / "answers-heldout.jsonl"


def _relevant(chunk: Any, row: dict[str, Any]) -> bool:
    return chunk.source == row["source"] and row["section"] in chunk.section.split(" > ")


def score(pipe: Pipeline, generator: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    before = after = 0
    named = asked_next = 0
    misses: list[str] = []
    for row in rows:
        q = row["question"]
        plain = pipe.retriever.search(pipe.snapshot, q, pipe.embedder.embed_query(q), 5)
        grounded = pipe.passages(q, grounded=True)[:5]
        before += any(_relevant(h.chunk, row) for h in plain[:5])
        ok = any(_relevant(c, row) for c in grounded)
        after += ok
        if not ok:
            misses.append(row["id"])
        if row.get("after_phase"):
            asked_next += 1
            answer = generator.generate(pipe.request(q, grounded)).text
            named += f"Phase {row['phase']}" in answer
    n = len(rows) or 1
    out: dict[str, Any] = {
        "questions": len(rows),
        "top5_before": round(before / n, 3),
        "top5_after": round(after / n, 3),
        "misses_after": misses,
    }
    if asked_next:
        out["next_phase_named"] = round(named / asked_next, 3)
        out["next_phase_questions"] = asked_next
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    args = parser.parse_args(argv)

    from assistant.embeddings import SentenceTransformerEmbedder
    from assistant.generation.extractive import ExtractiveGenerator

    t0 = time.perf_counter()
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    pipe = Pipeline(embedder, args.index_dir)
    generator = ExtractiveGenerator(embedder)
    dev = [
        r
        for f in sorted((CORPUS / "eval").glob("questions-*.jsonl"))
        for r in load_jsonl(f)
        if r["source"] == "roadmap.md"
    ]
    heldout = [r for r in load_jsonl(HELDOUT) if r.get("source") == "roadmap.md"]
    for r in heldout:  # "after X" rows (ids h-rm-afterN) expect the next phase to be named
        if "-after" in r["id"]:
            r["after_phase"] = r["phase"] - 1
    report = {
        "tuning_set": score(pipe, generator, load_jsonl(TUNING)),
        "corpus_eval_roadmap": score(pipe, generator, dev),
        "heldout_roadmap": score(pipe, generator, heldout),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
