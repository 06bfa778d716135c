"""Merge per-answerer `assistant eval --answerers X --json` outputs on their common questions.

    python bench/answer_table.py var/eval/extractive.json var/eval/base.json var/eval/finetuned.json

Prints the JSON summary and the Markdown table; rows are recomputed on the questions every
input answered, so answerers run on different `--limit` samples stay comparable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.answer_eval import markdown_table, summarise


def main(paths: list[str]) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    rows = {name: r for run in runs for name, r in run["rows"].items()}
    common = set.intersection(*({x["id"] for x in r} for r in rows.values()))
    merged = {"questions": len(common), "answerers": {}}
    for run in runs:
        for name, summary in run["answerers"].items():
            kept = [x for x in rows[name] if x["id"] in common]
            merged["answerers"][name] = {"model": summary["model"], "load_s": summary["load_s"],
                                         **summarise(kept)}  # fmt: skip
    print(json.dumps(merged, indent=1))
    print(markdown_table(merged))


if __name__ == "__main__":
    main(sys.argv[1:])
