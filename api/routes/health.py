"""GET /health, /ready, /metrics and /v1/index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from api.deps import AppStateDep, AssistantDep, ClientDep
from api.probe import probe

router = APIRouter(tags=["operations"])
INDEX_CHUNKS = Gauge("assistant_index_chunks", "Chunks in the served index")
READY = Gauge("assistant_ready", "1 when an index is loaded")
LEDGER_HEALTHY = Gauge("assistant_ledger_healthy", "1 while the ledger database takes rows")
LEDGER_QUEUE = Gauge("assistant_ledger_queue_depth", "Ledger rows queued in memory")
LEDGER_SPILLED = Gauge(
    "assistant_ledger_spill_pending_rows", "Ledger rows waiting in the spill file"
)
LEDGER_SPILLED_TOTAL = Counter("assistant_ledger_spilled_rows", "Ledger rows ever spilled to disk")
LEDGER_DROPPED = Counter("assistant_ledger_dropped_rows", "Ledger rows lost")
_counted: dict[str, float] = {"spilled": 0.0, "dropped": 0.0}  # totals already exported


def ledger_state(ledger: Any) -> dict[str, Any]:
    """The ledger's health figures (zeros for a ledger that has none)."""
    return {
        "healthy": bool(getattr(ledger, "healthy", True)),
        "queue_depth": int(getattr(ledger, "queue_depth", 0)),
        "spilled_rows": int(getattr(ledger, "spilled_rows", 0)),
        "spilled_total": int(getattr(ledger, "spilled_total", 0)),
        "dropped_rows": int(getattr(ledger, "dropped", 0)),
        "last_error": getattr(ledger, "last_error", None),
    }


def _export_ledger(state: dict[str, Any]) -> None:
    LEDGER_HEALTHY.set(1 if state["healthy"] else 0)
    LEDGER_QUEUE.set(state["queue_depth"])
    LEDGER_SPILLED.set(state["spilled_rows"])
    # Counters only go up: add what is new since the last scrape (one ledger per process).
    for name, counter, value in (
        ("spilled", LEDGER_SPILLED_TOTAL, state["spilled_total"]),
        ("dropped", LEDGER_DROPPED, state["dropped_rows"]),
    ):
        if value > _counted[name]:
            counter.inc(value - _counted[name])
            _counted[name] = value


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
    """Prometheus metrics."""
    if assistant.ready:
        INDEX_CHUNKS.set(len(assistant.snapshot.chunks))
    _export_ledger(ledger_state(assistant.ledger))
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
