"""`assistant costs`: what the queries and builds cost, as a table (or JSON with --json)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from assistant.cli.common import emit, settings_with
from assistant.dates import parse_since

# (header, stats key, format) of each column; the stats come from assistant.ledger_summary.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("queries", "queries", "{:,}"),
    ("prompt tok", "prompt_tokens", "{:,}"),
    ("completion tok", "completion_tokens", "{:,}"),
    ("embed tok", "embed_tokens", "{:,}"),
    ("cost USD", "cost_usd", "{:.6f}"),
    ("saved USD", "saved_usd", "{:.6f}"),
    ("cache hits", "cache_hit_rate", "{:.1%}"),
    ("degraded", "degraded", "{:,}"),
    ("avg ms", "avg_total_ms", "{:.1f}"),
    ("p50 ms", "p50_total_ms", "{:.1f}"),
    ("p95 ms", "p95_total_ms", "{:.1f}"),
)


@click.command()
@click.option("--since", help="ISO date/time, or a number of days like 7d.")
@click.option("--by", type=click.Choice(["day", "model", "key"]), help="Group totals.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def costs(since: str | None, by: str | None, as_json: bool) -> None:
    """Report query costs, tokens, cache savings and latency from the ledger.

    Example: assistant costs --since 7d --by model
    """
    # The ledger alone, not assistant.factory: that module imports the whole service.
    from assistant.ledger import SqlCostLedger

    start = parse_since(since)
    ledger = SqlCostLedger(settings_with().database_url)
    try:
        data = ledger.summary(since=start, by=by)  # type: ignore[arg-type]
    finally:
        ledger.close()
    emit(data, as_json, costs_table)


def costs_table(d: dict[str, Any]) -> str:
    """The summary as an aligned text table: one row per group, then the total."""
    rows = [[name, *_cells(stats)] for name, stats in d["groups"].items()]
    rows.append(["total", *_cells(d["totals"])])
    headers = [d["by"] or "", *(header for header, _, _ in COLUMNS)]
    builds = d["builds"]
    return "\n".join(
        [
            f"queries since {d['since']}" if d["since"] else "queries, all time",
            *table(headers, rows),
            f"index builds: {builds['count']:,}, {builds['embed_tokens']:,} embedding tokens, "
            f"{builds['cost_usd']:.6f} USD",
        ]
    )


def _cells(stats: dict[str, Any]) -> list[str]:
    return [fmt.format(stats[key]) for _, key, fmt in COLUMNS]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain table: the first column left-aligned, the numbers right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [str(first).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]
