"""GET /v1/roadmap: phases with goals, topics, suggested time and the material for each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AssistantDep, ClientDep

router = APIRouter(tags=["roadmap"])


@router.get("/v1/roadmap")
def read_roadmap(assistant: AssistantDep, client: ClientDep) -> dict[str, Any]:
    """The roadmap's phases and the indexed material tagged with each."""
    return assistant.roadmap_material()
