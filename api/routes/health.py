"""GET /health, /ready, /metrics and /v1/index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import AppStateDep, AssistantDep, ClientDep
from api.metrics import READY, exposition, ledger_state, sample
from api.probe import probe

router = APIRouter(tags=["operations"])


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
    # The whole check runs in the probe pool: a frozen Redis cannot hold /ready past 1 s.
    redis = bool(state.settings.redis_url)
    deps = await probe(
        lambda: a.dependencies(redis=redis),
        {"redis" if redis else "cache": "down (no answer within the probe timeout)"},
    )
    ledger = ledger_state(a.ledger)
    ready = a.ready
    READY.set(1 if ready else 0)
    degraded = any(v.startswith("down") for v in deps.values())
    body = {
        "ready": ready,
        "index_version": a.loaded.version if a.loaded else None,
        "degraded": degraded,
        "dependencies": deps,
        # A published version that failed to load (the served one, if any, is older).
        "index_problems": a.load_problems,
        "ledger": ledger,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def read_metrics(assistant: AssistantDep) -> Response:
    """Prometheus metrics (every worker's, with `assistant serve --workers N`)."""
    sample(assistant)  # this process's gauges, now; other workers sample their own
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


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
