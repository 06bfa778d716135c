"""One index build in its own process, paused at a known stage (for the kill and lock tests).

    python -m tests.indexing.build_worker CORPUS INDEX_DIR STAGE MARKER HOLD_S

At the first progress report of STAGE ("load", "embed", "write" or "publish": the version
moved into versions/, not yet published) the worker writes MARKER, then sleeps HOLD_S
seconds inside the build (holding the build lock, with its ``tmp-*`` folder half written
when STAGE is "write"). STAGE "eval" builds with an evaluation (``--eval``) and pauses
inside it. It prints the build report as JSON when the build finishes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str]) -> int:
    corpus, index_dir, stage, marker, hold = argv
    from indexing.build import BuildOptions, build_index
    from tests.support.embedders import default_embedder

    embedder = default_embedder()
    paused = False

    def progress(name: str, done: int, total: int) -> None:
        nonlocal paused
        if name == stage and not paused:
            paused = True
            Path(marker).write_text(f"{name} {done}/{total} pid {os.getpid()}\n")
            time.sleep(float(hold))

    def evaluate(path: Path) -> dict[str, float]:
        progress("eval", 0, 1)
        return {"recall@5": 1.0}

    report = build_index(
        BuildOptions(corpus=Path(corpus), index_dir=Path(index_dir)),
        embedder,
        progress=progress,
        evaluate=evaluate if stage == "eval" else None,
    )
    print(json.dumps(report.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
