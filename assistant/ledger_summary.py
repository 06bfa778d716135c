"""Aggregates ledger rows into totals, in Python, so SQLite and PostgreSQL agree exactly.

Grouping by UTC day and the median are not portable SQL (SQLite has no
``date_trunc`` nor ``percentile_cont``); the ledger reads the few columns it needs
and this module does the arithmetic.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

CACHE_HITS = ("hit", "semantic")


def _group_of(row: dict[str, Any], by: str) -> str:
    if by == "day":
        return str(row["ts"].date().isoformat())  # ts is UTC
    if by == "model":
        return str(row["model"])
    return str(row["key_id"])


def _stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    hits = sum(r["cache"] in CACHE_HITS for r in rows)
    latencies = [float(r["total_ms"]) for r in rows]
    return {
        "queries": n,
        "prompt_tokens": sum(int(r["prompt_tokens"]) for r in rows),
        "completion_tokens": sum(int(r["completion_tokens"]) for r in rows),
        "embed_tokens": sum(int(r["embed_tokens"]) for r in rows),
        "cost_usd": round(sum(float(r["cost_usd"]) for r in rows), 6),
        "saved_usd": round(sum(float(r["saved_usd"]) for r in rows), 6),
        "cache_hits": hits,
        "semantic_hits": sum(r["cache"] == "semantic" for r in rows),
        "cache_hit_rate": round(hits / n, 4) if n else 0.0,
        "degraded": sum(bool(r["degraded"]) for r in rows),
        "avg_total_ms": round(statistics.fmean(latencies), 2) if n else 0.0,
        "p50_total_ms": round(statistics.median(latencies), 2) if n else 0.0,
    }


def summarize(rows: Iterable[dict[str, Any]], by: str | None) -> dict[str, Any]:
    """``{"by", "totals": stats, "groups": {name: stats}}`` with groups in sorted order."""
    all_rows = list(rows)
    result: dict[str, Any] = {"by": by, "totals": _stats(all_rows), "groups": {}}
    if by is not None:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in all_rows:
            groups.setdefault(_group_of(row, by), []).append(row)
        result["groups"] = {name: _stats(groups[name]) for name in sorted(groups)}
    return result
