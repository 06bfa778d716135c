"""`assistant costs`: a table by default, the ledger's summary as JSON with --json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from assistant.ledger import QueryCost, SqlCostLedger
from tests.cli.helpers import Cli, one_line_error


def fill_ledger(db: Path) -> None:
    ledger = SqlCostLedger(f"sqlite:///{db}")
    now = datetime.now(UTC)
    for i, (model, cache, ms) in enumerate(
        [("gpt-4o-mini", "miss", 100.0), ("gpt-4o-mini", "hit", 10.0), ("llama", "miss", 40.0)]
    ):
        ledger.record(
            QueryCost(ts=now - timedelta(minutes=i), request_id=f"r{i}", key_id="anonymous",
                      backend="openai", model=model, endpoint="ask", prompt_tokens=100,
                      completion_tokens=20, cost_usd=0.001 if cache == "miss" else 0.0,
                      cache=cache, total_ms=ms)
        )  # fmt: skip
    ledger.record_build("v1", 5000, 50, 0, 3.0, "all-MiniLM-L6-v2")
    ledger.close()


def test_costs_prints_a_table_and_json_on_request(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    fill_ledger(cli.db)

    data = cli.json("costs", "--by", "model", "--json")
    assert data["totals"]["queries"] == 3 and data["totals"]["cache_hits"] == 1
    assert set(data["groups"]) == {"gpt-4o-mini", "llama"}
    assert data["totals"]["p50_total_ms"] == 40.0 and data["builds"]["count"] == 1

    table = cli("costs", "--by", "model")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "queries, all time"
    assert lines[1].split()[:3] == ["model", "queries", "prompt"]
    rows = {ln.split()[0]: ln.split() for ln in lines[3:6]}
    assert list(rows) == ["gpt-4o-mini", "llama", "total"]
    assert rows["gpt-4o-mini"][1:3] == ["2", "200"] and rows["total"][1:3] == ["3", "300"]
    assert rows["total"][5] == "0.002000" and rows["total"][7] == "33.3%"
    assert lines[-1] == "index builds: 1, 5,000 embedding tokens, 0.000000 USD"
    assert not table.stdout.lstrip().startswith("{")

    recent = cli("costs", "--since", "2999-01-01")
    assert recent.exit_code == 0 and recent.stdout.startswith("queries since 2999-01-01")
    assert "total        0" in recent.stdout


def test_a_bad_since_is_a_one_line_error(tmp_path: Path) -> None:
    line = one_line_error(Cli(tmp_path)("costs", "--since", "last week"), 2)
    assert line == "error: since must be an ISO date or like 7d, got 'last week'"
