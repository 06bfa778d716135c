"""Extractive answers, today's code (commit d8876dc) vs this tree's, measured in one run.

Both generators answer the same questions from the same passages (the service's retrieval,
relevance filter and token budget, plus the grounding step; see ``bench/answer_pipeline``).
Sets: the held-out answer set (in-scope rows), the dev set ``bench/data/extractive_dev.jsonl``
(tuning questions with references) and, with ``--corpus-eval``, the questions of
``corpus/eval`` (no references). Scores: token F1 and ROUGE-L against the reference answer,
faithfulness (share of answer sentences found in, or
supported by, the passage they cite), answers that open with a sentence needing the one
before it, and length. Prints JSON.

    .venv/bin/python bench/extractive_compare.py                 # held-out + dev (with references)
    .venv/bin/python bench/extractive_compare.py --corpus-eval   # + the corpus/eval questions
    .venv/bin/python bench/extractive_compare.py --baseline d8876dc --no-dev
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere

from bench.answer_pipeline import (  # noqa: E402
    DEFAULT_INDEX,
    Pipeline,
    cited_sentences,
    faithfulness,
    load_jsonl,
    rouge_l,
    token_f1,
)
from bench.common import CORPUS  # noqa: E402

HELDOUT = CORPUS / "eval" / "answers-heldout.jsonl"
DEV_SETS = sorted((CORPUS / "eval").glob("questions-*.jsonl"))
DEV_EXTRA = REPO / "bench" / "data" / "extractive_dev.jsonl"
# An opener that needs the sentence before it (the same rule as the new generator's).
from assistant.generation.sentences import DEPENDENT_OPENER  # noqa: E402


def load_baseline(commit: str) -> ModuleType:
    """The extractive module as it was at ``commit``, imported under another name."""
    src = subprocess.run(
        ["git", "show", f"{commit}:assistant/generation/extractive.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"extractive_{commit}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"extractive_{commit}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_set(
    pipe: Pipeline, generators: dict[str, Any], rows: list[dict[str, Any]], grounded: bool
) -> dict[str, Any]:
    out: dict[str, dict[str, list[float]]] = {name: {} for name in generators}
    for row in rows:
        question = row["question"]
        passages = pipe.passages(question, grounded=grounded)
        if not passages:
            continue  # refused by retrieval: the same for both generators
        request = pipe.request(question, passages)
        for name, gen in generators.items():
            text = gen.generate(request).text
            m = out[name]
            if row.get("reference"):
                m.setdefault("token_f1", []).append(token_f1(text, row["reference"]))
                m.setdefault("rouge_l", []).append(rouge_l(text, row["reference"]))
            m.setdefault("faithfulness", []).append(faithfulness(text, passages, pipe.embedder))
            first = cited_sentences(text)[:1]
            m.setdefault("dependent_opener", []).append(
                float(bool(first) and bool(DEPENDENT_OPENER.match(first[0][0])))
            )
            m.setdefault("words", []).append(float(len(text.split())))
    result: dict[str, Any] = {"questions": len(rows)}
    for name, metrics in out.items():
        result[name] = {k: round(sum(v) / len(v), 4) for k, v in metrics.items() if v}
        result[name]["answered"] = len(metrics.get("words", []))
    old, new = result.get("old", {}), result.get("new", {})
    result["ratio_new_over_old"] = {
        k: round(new[k] / old[k], 3) for k in ("token_f1", "rouge_l") if old.get(k)
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="d8876dc", help="commit of today's extractive")
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--no-dev", action="store_true", help="held-out set only")
    parser.add_argument(
        "--corpus-eval",
        action="store_true",
        help="also the ~210 questions of corpus/eval (no references: faithfulness, openers)",
    )
    parser.add_argument(
        "--no-grounding", action="store_true", help="plain retrieval, no grounding step"
    )
    args = parser.parse_args(argv)

    from assistant.embeddings import SentenceTransformerEmbedder
    from assistant.generation.extractive import ExtractiveGenerator

    t0 = time.perf_counter()
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    pipe = Pipeline(embedder, args.index_dir)
    generators = {
        "old": load_baseline(args.baseline).ExtractiveGenerator(embedder),
        "new": ExtractiveGenerator(embedder),
    }
    grounded = not args.no_grounding
    heldout = [r for r in load_jsonl(HELDOUT) if r.get("in_scope", True)]
    report: dict[str, Any] = {
        "baseline": args.baseline,
        "grounding": grounded,
        "heldout": score_set(pipe, generators, heldout, grounded),
    }
    if not args.no_dev:
        report["dev"] = score_set(pipe, generators, load_jsonl(DEV_EXTRA), grounded)
    if args.corpus_eval:
        rows = [r for f in DEV_SETS for r in load_jsonl(f)]
        report["corpus_eval"] = score_set(pipe, generators, rows, grounded)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
