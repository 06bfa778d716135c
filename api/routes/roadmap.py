"""GET /v1/roadmap: phases with goals, topics, suggested time and the material for each."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter

from api.deps import AssistantDep, ClientDep

router = APIRouter(tags=["roadmap"])


@router.get("/v1/roadmap")
def read_roadmap(assistant: AssistantDep, client: ClientDep) -> dict[str, Any]:
    """The roadmap's phases and the indexed material tagged with each."""
    material: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    snap = assistant.loaded
    for c in snap.chunks if snap else []:
        for p in c.phases:
            entry = material[p].setdefault(
                c.source,
                {
                    "source": c.source,
                    "title": c.title,
                    "url": c.url.split("#")[0] if c.url else None,
                    "sections": [],
                    "chunks": 0,
                },
            )
            entry["chunks"] += 1
            if c.section and c.section not in entry["sections"]:
                entry["sections"].append(c.section)
    phases = []
    for n, phase in sorted(assistant.roadmap.phases.items()):
        phases.append({**phase.to_json(), "material": list(material.get(n, {}).values())})
    return {"phases": phases, "index_version": snap.version if snap else None}
