"""GET /health, /ready, /metrics and /v1/index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from api.deps import AppStateDep, AssistantDep, ClientDep
from api.probe import probe

router = APIRouter(tags=["operations"])
INDEX_CHUNKS = Gauge("assistant_index_chunks", "Chunks in the served index")
READY = Gauge("assistant_ready", "1 when an index is loaded")


# /health, /ready and /metrics are coroutines with coroutine dependencies: they never
# need a worker thread, so they answer while every worker waits on a hung model.
@router.get("/health")
async def read_health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def read_ready(state: AppStateDep) -> JSONResponse:
    """Readiness: an index is loaded; lists the state of every dependency."""
    a = state.assistant
    deps: dict[str, Any] = {}
    cache = a.cache
    if state.settings.redis_url:
        ok = await probe(cache.ping, False)
        deps["redis"] = (
            "ok" if ok else f"down ({getattr(cache, 'last_error', None) or 'no answer'})"
        )
    else:
        deps["cache"] = "in-process"
    deps["ledger"] = "ok" if getattr(a.ledger, "healthy", True) else "down"
    deps["llm"] = f"{a.generator.backend} ({a.generator.model})"
    ready = a.ready
    READY.set(1 if ready else 0)
    degraded = any(str(v).startswith("down") for v in deps.values())
    body = {
        "ready": ready,
        "index_version": a.loaded.version if a.loaded else None,
        "degraded": degraded,
        "dependencies": deps,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def read_metrics(assistant: AssistantDep) -> Response:
    """Prometheus metrics."""
    if assistant.ready:
        INDEX_CHUNKS.set(len(assistant.snapshot.chunks))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/index")
def read_index(assistant: AssistantDep, client: ClientDep) -> dict[str, Any]:
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
