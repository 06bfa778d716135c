"""Totals of the query ledger, aggregated by the database (SQLite and PostgreSQL alike).

Two statements per summary, whatever the number of rows: one ``GROUP BY`` for the sums,
counts and mean, one for the median and the 95th percentile. Neither engine shares a
percentile function (SQLite has no ``percentile_cont``), so both come from the rows as
numbered by ``row_number()`` over each group: the median is the mean of the middle one or
two, the 95th percentile the nearest rank, row ``ceil(0.95 n)``. A UTC day is
``date(ts)`` on SQLite, which stores the UTC time as text, and
``date(ts AT TIME ZONE 'UTC')`` on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa

CACHE_HITS = ("hit", "semantic")
GroupBy = Literal["day", "model", "key"]


def _group_column(q: sa.Table, by: GroupBy | None, dialect: str) -> sa.ColumnElement[Any]:
    if by == "day":
        ts: sa.ColumnElement[Any] = q.c.ts
        if dialect == "postgresql":
            ts = sa.func.timezone("UTC", ts)
        return sa.func.date(ts)
    if by == "model":
        return q.c.model
    if by == "key":
        return q.c.key_id
    return sa.literal("")  # one group: the totals


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _sum(column: sa.ColumnElement[Any], zero: Any = 0) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(column), zero)


def _totals_stmt(q: sa.Table, group: sa.ColumnElement[Any]) -> sa.Select[Any]:
    return sa.select(
        group.label("g"),
        sa.func.count().label("queries"),
        _sum(q.c.prompt_tokens).label("prompt_tokens"),
        _sum(q.c.completion_tokens).label("completion_tokens"),
        _sum(q.c.embed_tokens).label("embed_tokens"),
        _sum(q.c.cost_usd, 0.0).label("cost_usd"),
        _sum(q.c.saved_usd, 0.0).label("saved_usd"),
        _count_if(q.c.cache.in_(CACHE_HITS)).label("cache_hits"),
        _count_if(q.c.cache == "semantic").label("semantic_hits"),
        _count_if(q.c.degraded.is_(True)).label("degraded"),
        sa.func.coalesce(sa.func.avg(q.c.total_ms), 0.0).label("avg_total_ms"),
    ).group_by(group)


def _latency_stmt(
    q: sa.Table, group: sa.ColumnElement[Any], where: list[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    """(group, median, p95) of ``total_ms``."""
    ranked = (
        sa.select(
            group.label("g"),
            q.c.total_ms,
            sa.func.row_number().over(partition_by=group, order_by=q.c.total_ms).label("rn"),
            sa.func.count().over(partition_by=group).label("n"),
        )
        .where(*where)
        .subquery()
    )
    # Integer division: n = 5 takes row 3; n = 4 takes rows 2 and 3.
    middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    # ceil(0.95 n) in integers: n = 20 takes row 19, n = 10 row 10, n = 1 row 1.
    p95_row = ranked.c.rn == (ranked.c.n * 95 + 99) // 100
    return sa.select(
        ranked.c.g,
        sa.func.avg(sa.case((middle, ranked.c.total_ms))),
        sa.func.max(sa.case((p95_row, ranked.c.total_ms))),
    ).group_by(ranked.c.g)


def _stats(row: Any, median: float, p95: float) -> dict[str, Any]:
    n = int(row.queries)
    hits = int(row.cache_hits)
    return {
        "queries": n,
        "prompt_tokens": int(row.prompt_tokens),
        "completion_tokens": int(row.completion_tokens),
        "embed_tokens": int(row.embed_tokens),
        "cost_usd": round(float(row.cost_usd), 6),
        "saved_usd": round(float(row.saved_usd), 6),
        "cache_hits": hits,
        "semantic_hits": int(row.semantic_hits),
        "cache_hit_rate": round(hits / n, 4) if n else 0.0,
        "degraded": int(row.degraded),
        "avg_total_ms": round(float(row.avg_total_ms), 2) if n else 0.0,
        "p50_total_ms": round(float(median), 2) if n else 0.0,
        "p95_total_ms": round(float(p95), 2) if n else 0.0,
    }


def _grouped(
    conn: sa.Connection, q: sa.Table, by: GroupBy | None, where: list[sa.ColumnElement[bool]]
) -> dict[str, dict[str, Any]]:
    group = _group_column(q, by, conn.dialect.name)
    latency = {
        str(g): (float(m), float(p)) for g, m, p in conn.execute(_latency_stmt(q, group, where))
    }
    rows = conn.execute(_totals_stmt(q, group).where(*where))
    return {str(r.g): _stats(r, *latency.get(str(r.g), (0.0, 0.0))) for r in rows}


EMPTY = {"queries": 0, "prompt_tokens": 0, "completion_tokens": 0, "embed_tokens": 0,
         "cost_usd": 0.0, "saved_usd": 0.0, "cache_hits": 0, "semantic_hits": 0,
         "degraded": 0, "avg_total_ms": 0.0}  # fmt: skip


def summarize(
    conn: sa.Connection, queries: sa.Table, since: datetime | None, by: GroupBy | None
) -> dict[str, Any]:
    """``{"by", "totals": stats, "groups": {name: stats}}`` with groups in sorted order.

    ``since`` must be timezone-aware UTC (or None for all time).
    """
    where = [queries.c.ts >= since] if since is not None else []
    totals = _grouped(conn, queries, None, where)
    # GROUP BY over no rows gives no row at all: the totals of nothing are zeros.
    empty = _stats(SimpleNamespace(**EMPTY), 0.0, 0.0)
    result: dict[str, Any] = {"by": by, "totals": totals.get("", empty), "groups": {}}
    if by is not None:
        groups = _grouped(conn, queries, by, where)
        result["groups"] = {name: groups[name] for name in sorted(groups)}
    return result


def daily_series(groups: dict[str, dict[str, Any]], first: date, days: int) -> list[dict[str, Any]]:
    """``days`` entries, one per UTC day from ``first``: that day's stats (zeros when none).

    ``groups`` is the ``"groups"`` of a ``summarize(..., by="day")``; days without a row are
    filled in so a chart's time axis has no holes.
    """
    empty = _stats(SimpleNamespace(**EMPTY), 0.0, 0.0)
    out = []
    for i in range(days):
        day = (first + timedelta(days=i)).isoformat()
        out.append({"day": day, **groups.get(day, empty)})
    return out
