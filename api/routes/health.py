"""GET /health, /ready, /metrics and /v1/index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from api.deps import AppStateDep, AssistantDep

router = APIRouter(tags=["operations"])
INDEX_CHUNKS = Gauge("assistant_index_chunks", "Chunks in the served index")
READY = Gauge("assistant_ready", "1 when an index is loaded")


@router.get("/health")
def read_health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
def read_ready(state: AppStateDep) -> JSONResponse:
    """Readiness: an index is loaded; lists the state of every dependency."""
    a = state.assistant
    deps = a.dependencies(redis=bool(state.settings.redis_url))
    ready = a.ready
    READY.set(1 if ready else 0)
    degraded = any(v.startswith("down") for v in deps.values())
    body = {
        "ready": ready,
        "index_version": a.loaded.version if a.loaded else None,
        "degraded": degraded,
        "dependencies": deps,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def read_metrics(assistant: AssistantDep) -> Response:
    """Prometheus metrics."""
    if assistant.ready:
        INDEX_CHUNKS.set(len(assistant.snapshot.chunks))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/index")
def read_index(assistant: AssistantDep) -> dict[str, Any]:
    """The served index: version, counts, embedding model, chunking."""
    snap = assistant.snapshot
    m = snap.manifest
    return {
        "index_version": snap.version,
        "created_at": m.created_at,
        "counts": m.counts,
        "model": m.model,
        "chunking": m.chunking,
        "index_type": m.index_type,
        "sources": len(m.sources),
    }
