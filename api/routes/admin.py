"""Admin endpoints (need ASSISTANT_ADMIN_KEY): costs and index reload."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from api.deps import AdminDep, AssistantDep
from assistant.dates import parse_since

router = APIRouter(tags=["admin"], dependencies=[AdminDep])


@router.get("/v1/costs")
def read_costs(
    assistant: AssistantDep,
    since: str | None = None,
    by: Literal["day", "model", "key"] | None = None,
) -> dict[str, Any]:
    """Totals, averages and cache savings from the cost ledger."""
    return assistant.costs(since=parse_since(since), by=by)


@router.post("/v1/admin/reload")
def reload_index(assistant: AssistantDep) -> dict[str, Any]:
    """Load the newest published index version now (no restart, in-flight requests finish)."""
    swapped = assistant.reload()
    return {"reloaded": swapped, "index_version": assistant.snapshot.version}
