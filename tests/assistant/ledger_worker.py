"""A process that records ledger rows as fast as it can, for the kill -9 test.

    python -m tests.assistant.ledger_worker URL SPILL_DIR

Prints ``i`` after ``record(row i)`` returned, one line each, flushed: the test's count
of rows the process believed recorded when it was killed.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def main(argv: list[str]) -> int:
    url, spill_dir = argv
    from assistant.ledger import QueryCost, SqlCostLedger

    ledger = SqlCostLedger(url, spill_dir=Path(spill_dir))
    i = 0
    while True:
        ledger.record(
            QueryCost(ts=datetime.now(UTC), request_id=f"w-{i}", key_id="anonymous",
                      backend="extractive", model="none", endpoint="ask")
        )  # fmt: skip
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        i += 1
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
