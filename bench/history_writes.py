"""What keeping conversation history costs the answer path, side by side in one run.

    .venv/bin/python bench/history_writes.py [--n 1000] [--database-url URL] > history.json

Times ``ConversationStore.append`` (what ``StudyAssistant.ask`` calls after each answer)
for a conversation kept in the durable log (queued for the background writer) and for
one that is not (cache only), and, as the reference of writing inline, one synchronous
``insert_exchanges`` transaction per exchange. Also the Redis-miss fallback read
(``SqlConversationLog.recent``, the last 10 messages). SQLite file by default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.cache import MemoryCache
from assistant.conversation_db import Exchange, insert_exchanges
from assistant.conversation_log import SqlConversationLog
from assistant.conversation_store import ConversationStore
from assistant.ledger_db import create_ledger_engine
from assistant.migrations import upgrade_schema

ANSWER = "Ridge adds an L2 penalty to the loss [1]; Lasso an L1 penalty [2]. " * 6
CITES = [{"id": i, "chunk_id": f"c{i}", "title": "Ridge", "section": "L2", "source": "notes/x.md",
          "url": None, "snippet": "x" * 280, "score": 0.5, "phases": [4]} for i in (1, 2, 3)]  # fmt: skip


def timed_us(n: int, step: Callable[[int], None]) -> dict[str, float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    return {"p50_us": round(statistics.median(times), 1), "p95_us": round(times[int(0.95 * n)], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ledger.db"
        engine = create_ledger_engine(url)
        upgrade_schema(engine)
        log = SqlConversationLog(engine, spill_dir=Path(tmp) / "spill")
        store = ConversationStore(MemoryCache(), 3600, log=log)
        owner = f"bench-{uuid.uuid4().hex[:8]}"
        kept = [store.open(owner, keep=True) for _ in range(10)]
        passing = [store.open(owner) for _ in range(10)]

        def append(convs: list) -> Callable[[int], None]:  # type: ignore[type-arg]
            return lambda i: store.append(convs[i % 10], f"question {i}", ANSWER, citations=CITES)

        cache_only = timed_us(args.n, append(passing))
        queued = timed_us(args.n, append(kept))
        log.flush(60)
        inline_engine = create_ledger_engine(url)
        conv = uuid.uuid4().hex

        def inline(i: int) -> None:
            row = Exchange(ts=datetime.now(UTC), request_id=str(i), conversation_id=conv,
                           owner=owner, question=f"q {i}", answer=ANSWER, citations=CITES)  # fmt: skip
            insert_exchanges(inline_engine, [row])

        synchronous = timed_us(min(args.n, 300), inline)
        fallback = timed_us(200, lambda i: log.recent(owner, kept[i % 10].id, 10))
        log.close()
        inline_engine.dispose()
    print(json.dumps({
        "database": url.split(":")[0],
        "n": args.n,
        "append_cache_only": cache_only,
        "append_kept_queued": queued,
        "insert_inline_reference": synchronous,
        "recent_10_fallback_read": fallback,
        "ratio_kept_vs_cache_only_p50": round(queued["p50_us"] / cache_only["p50_us"], 2),
        "ratio_inline_vs_kept_p50": round(synchronous["p50_us"] / queued["p50_us"], 1),
        "machine": {"loadavg_1m": os.getloadavg()[0], "cpus": os.cpu_count()},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
