"""Admin endpoints (need ASSISTANT_ADMIN_KEY): costs, usage per day and index reload."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import AdminDep, AssistantDep
from assistant.dates import parse_since
from assistant.ledger_summary import daily_series

router = APIRouter(tags=["admin"], dependencies=[AdminDep])
MAX_DAYS = 366


@router.get("/v1/costs")
def read_costs(
    assistant: AssistantDep,
    since: str | None = None,
    by: Literal["day", "model", "key"] | None = None,
) -> dict[str, Any]:
    """Totals, averages and cache savings from the cost ledger."""
    return assistant.costs(since=parse_since(since), by=by)


@router.get("/v1/admin/usage")
def read_usage(
    assistant: AssistantDep, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30
) -> dict[str, Any]:
    """Questions, tokens, cost, cache savings and latency per UTC day (the /admin charts)."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    # The same SQL aggregation as `assistant costs --by day`, from midnight UTC of the first day.
    summary = assistant.costs(since=datetime.combine(first, time(), UTC), by="day")
    return {
        "days": days,
        "first_day": first.isoformat(),
        "last_day": today.isoformat(),
        "series": daily_series(summary["groups"], first, days),
        "totals": summary["totals"],
    }


@router.post("/v1/admin/reload")
def reload_index(assistant: AssistantDep) -> dict[str, Any]:
    """Load the newest published index version now (no restart, in-flight requests finish)."""
    swapped = assistant.reload()
    return {"reloaded": swapped, "index_version": assistant.snapshot.version}
