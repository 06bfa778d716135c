"""The ledger's totals come from SQL: medians of odd and even groups, days in UTC, no rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from assistant.ledger import SqlCostLedger
from tests.assistant.test_ledger import T0, ledger, row

__all__ = ["ledger"]  # the SQLite + PostgreSQL fixture of test_ledger, used here as well


def test_median_of_odd_and_even_groups_and_the_mean(ledger: SqlCostLedger) -> None:
    times = {"a": [30.0, 10.0, 20.0], "b": [5.0, 1.0, 4.0, 100.0]}  # medians 20 and 4.5
    n = 0
    for model, values in times.items():
        for ms in values:
            n += 1
            ledger.record(row(n, model=model, total_ms=ms, degraded=(ms == 100.0)))
    assert ledger.flush()
    summary = ledger.summary(by="model")
    a, b = summary["groups"]["a"], summary["groups"]["b"]
    assert (a["p50_total_ms"], b["p50_total_ms"]) == (20.0, 4.5)
    assert (a["avg_total_ms"], b["avg_total_ms"]) == (20.0, 27.5)
    assert (a["degraded"], b["degraded"]) == (0, 1)
    assert summary["totals"]["p50_total_ms"] == 10.0  # 1 4 5 10 20 30 100
    # Nearest rank ceil(0.95 n): n = 3 and n = 4 take their last row, n = 7 its 7th.
    assert (a["p95_total_ms"], b["p95_total_ms"]) == (30.0, 100.0)
    assert summary["totals"]["p95_total_ms"] == 100.0
    assert summary["totals"]["queries"] == 7 and summary["totals"]["degraded"] == 1


def test_days_are_utc_days_and_nothing_is_all_zeros(ledger: SqlCostLedger) -> None:
    empty = ledger.summary(by="day")
    assert empty["groups"] == {}
    assert empty["totals"] == {
        "queries": 0, "prompt_tokens": 0, "completion_tokens": 0, "embed_tokens": 0,
        "cost_usd": 0.0, "saved_usd": 0.0, "cache_hits": 0, "semantic_hits": 0,
        "cache_hit_rate": 0.0, "degraded": 0, "avg_total_ms": 0.0, "p50_total_ms": 0.0,
        "p95_total_ms": 0.0,
    }  # fmt: skip
    # T0 is 23:30 UTC: 29 minutes later is the same day, 31 minutes later the next.
    for i, minutes in enumerate([0, 29, 31]):
        ledger.record(row(i, ts=T0 + timedelta(minutes=minutes)))
    assert ledger.flush()
    days = ledger.summary(by="day")["groups"]
    assert {day: g["queries"] for day, g in days.items()} == {"2026-03-01": 2, "2026-03-02": 1}


@pytest.mark.parametrize("by", ["day", "model", "key"])
def test_each_grouping_adds_up_to_the_totals(ledger: SqlCostLedger, by: str) -> None:
    for i in range(6):
        ledger.record(
            row(i, ts=T0 + timedelta(hours=i), model=f"m{i % 2}", key_id=f"k{i % 3}",
                cost_usd=0.001 * i, cache="hit" if i % 2 else "miss")
        )  # fmt: skip
    assert ledger.flush()
    summary = ledger.summary(by=by)  # type: ignore[arg-type]
    groups = summary["groups"].values()
    for key in ("queries", "prompt_tokens", "cache_hits"):
        assert sum(g[key] for g in groups) == summary["totals"][key]
    assert sum(g["cost_usd"] for g in groups) == pytest.approx(summary["totals"]["cost_usd"])


def test_p95_is_the_nearest_rank_of_each_group(ledger: SqlCostLedger) -> None:
    # 40 rows of 1..40 ms on one day, 20 of 1..20 the next: rows ceil(38) and ceil(19).
    for i in range(40):
        ledger.record(row(i, ts=T0 - timedelta(hours=1), total_ms=float(40 - i)))
    for i in range(20):
        ledger.record(row(100 + i, ts=T0 + timedelta(hours=1), total_ms=float(i + 1)))
    assert ledger.flush()
    days = ledger.summary(by="day")["groups"]
    assert days["2026-03-01"]["p95_total_ms"] == 38.0 and days["2026-03-01"]["p50_total_ms"] == 20.5
    assert days["2026-03-02"]["p95_total_ms"] == 19.0 and days["2026-03-02"]["p50_total_ms"] == 10.5
