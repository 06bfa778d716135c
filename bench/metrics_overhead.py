"""What the Prometheus metrics cost on the cached answer path, one process and many workers.

Prints JSON: microseconds per ``assistant.metrics.observe_answer`` for a cache-hit row and a
miss row, with the default in-memory registry and with ``PROMETHEUS_MULTIPROC_DIR`` set
(values in mmap'ed files, as ``assistant serve --workers N`` runs), each measured in a
fresh child process (prometheus_client picks its mode at import). In the same run, the
reference: one cache-hit ``StudyAssistant.ask`` on the real corpus index (median of
``--asks``), and the ratio of the metrics' cost to it::

    .venv/bin/python bench/metrics_overhead.py                   # builds a temp index first
    .venv/bin/python bench/metrics_overhead.py --index-dir var/index
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUESTION = "What is overfitting and how does regularization help?"


def child(n: int) -> dict[str, float]:
    """Per-call microseconds of observe_answer (best of 5 rounds of ``n`` calls)."""
    from assistant.ledger import QueryCost
    from assistant.metrics import observe_answer

    now = datetime.now(UTC)
    hit = QueryCost(ts=now, request_id="r", key_id="k", backend="openai", model="m",
                    endpoint="ask", cache="hit", saved_usd=0.0004, total_ms=3.0)  # fmt: skip
    miss = QueryCost(ts=now, request_id="r", key_id="k", backend="openai", model="m",
                     endpoint="ask", prompt_tokens=900, completion_tokens=120, embed_tokens=12,
                     cost_usd=0.0004, total_ms=900.0)  # fmt: skip
    out = {}
    for name, row in (("hit", hit), ("miss", miss)):
        rounds = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                observe_answer(row)
            rounds.append((time.perf_counter() - t) / n * 1e6)
        out[f"observe_{name}_us"] = round(min(rounds), 3)
    return out


def run_child(n: int, multiproc_dir: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(n)],
        env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def cached_ask_us(index_dir: Path | None, asks: int, tmp: Path) -> dict[str, Any]:
    from assistant.factory import make_assistant
    from assistant.service import AskOptions
    from assistant.settings import Settings
    from indexing.build import BuildOptions, build_index

    if index_dir is None:
        from assistant.factory import make_embedder

        settings = Settings(index_dir=tmp / "index", database_url=f"sqlite:///{tmp}/l.db")
        build_index(BuildOptions(corpus=REPO / "corpus", index_dir=settings.index_dir),
                    make_embedder(settings))  # fmt: skip
    else:
        settings = Settings(index_dir=index_dir, database_url=f"sqlite:///{tmp}/l.db")
    settings = settings.model_copy(update={"redis_url": None, "corpus_dir": REPO / "corpus"})
    assistant = make_assistant(settings)
    try:
        assert assistant.ask(QUESTION).cache == "miss"
        times = []
        for _ in range(asks):
            t = time.perf_counter()
            answer = assistant.ask(QUESTION, AskOptions())
            times.append((time.perf_counter() - t) * 1e6)
            assert answer.cache == "hit", answer.cache
    finally:
        assistant.close()
    return {"cached_ask_us_median": round(statistics.median(times), 1), "asks": asks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, help="a published index (default: build one)")
    parser.add_argument("--calls", type=int, default=20_000, help="observe_answer calls a round")
    parser.add_argument("--asks", type=int, default=300, help="cache-hit asks timed")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as tmp:
        mp_dir = Path(tmp) / "prom"
        mp_dir.mkdir()
        single = run_child(args.calls, None)
        multi = run_child(args.calls, str(mp_dir))
        ref = cached_ask_us(args.index_dir, args.asks, Path(tmp))
    hit_ref = ref["cached_ask_us_median"]
    out = {
        "single_process": single,
        "multiprocess": multi,
        "reference": ref,
        "share_of_a_cached_ask": {
            "single_process": round(single["observe_hit_us"] / hit_ref, 4),
            "multiprocess": round(multi["observe_hit_us"] / hit_ref, 4),
        },
        "load": os.getloadavg()[0],
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
