"""Prometheus exposition for one process or many workers, and the gauges sampled from the service.

One process: the default registry; the gauges are refreshed at each scrape.

Several workers (``PROMETHEUS_MULTIPROC_DIR`` set; ``assistant serve --workers N`` sets it
to a fresh folder): every worker writes its counters, histograms and gauges to files in
that folder, and a scrape, answered by whichever worker gets it, merges them all
(``MultiProcessCollector``). Counters of a worker that died stay counted. Each gauge says
how workers combine (``multiprocess_mode``): queue depths add up over live workers, ready
and ledger health are the minimum (1 only when every worker is), the breaker the worst
(max). A scrape reaches one worker only, so every worker refreshes its own gauges each
``SAMPLE_S`` in a thread; a worker that stops removes its gauges (``mark_process_dead``) and
the others sweep those of a worker that died without stopping.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_S = 2.0  # how stale a worker's gauges may be in a multi-worker scrape
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}

READY = Gauge(
    "assistant_ready", "1 when an index is loaded (every worker)", multiprocess_mode="livemin"
)
INDEX_CHUNKS = Gauge(
    "assistant_index_chunks", "Chunks in the served index", multiprocess_mode="livemax"
)
LEDGER_HEALTHY = Gauge(
    "assistant_ledger_healthy",
    "1 while the ledger database takes rows (every worker)",
    multiprocess_mode="livemin",
)
LEDGER_QUEUE = Gauge(
    "assistant_ledger_queue_depth", "Ledger rows queued in memory", multiprocess_mode="livesum"
)
LEDGER_SPILLED = Gauge(
    "assistant_ledger_spill_pending_rows",
    "Ledger rows waiting in the spill file",
    multiprocess_mode="livesum",
)
BREAKER = Gauge(
    "assistant_upstream_breaker_state",
    "Circuit breaker of the model endpoint: 0 closed, 1 half-open, 2 open (worst worker)",
    multiprocess_mode="livemax",
)
LEDGER_SPILLED_TOTAL = Counter("assistant_ledger_spilled_rows", "Ledger rows ever spilled to disk")
LEDGER_DROPPED = Counter("assistant_ledger_dropped_rows", "Ledger rows lost")
_counted: dict[str, float] = {"spilled": 0.0, "dropped": 0.0}  # this process's totals exported
_counted_lock = threading.Lock()


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


def sample(assistant: Any) -> None:
    """Set this process's gauges from the service (and the ledger counters' increments)."""
    ready = assistant.ready
    READY.set(1 if ready else 0)
    if ready:
        INDEX_CHUNKS.set(len(assistant.snapshot.chunks))
    state = ledger_state(assistant.ledger)
    LEDGER_HEALTHY.set(1 if state["healthy"] else 0)
    LEDGER_QUEUE.set(state["queue_depth"])
    LEDGER_SPILLED.set(state["spilled_rows"])
    # Counters only go up: add what is new since the last sample (one ledger per process).
    # Locked: /metrics and the gauge thread both sample, and must not add one delta twice.
    with _counted_lock:
        for name, counter, value in (
            ("spilled", LEDGER_SPILLED_TOTAL, state["spilled_total"]),
            ("dropped", LEDGER_DROPPED, state["dropped_rows"]),
        ):
            if value > _counted[name]:
                counter.inc(value - _counted[name])
                _counted[name] = value
    breaker = getattr(getattr(assistant.generator, "breaker", None), "state", None)
    BREAKER.set(BREAKER_VALUES.get(str(breaker), 0))


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """The text format of every metric: this process's, or every worker's merged."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return generate_latest(registry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_workers(path: str) -> list[int]:
    """Remove the live gauges of workers that are gone (killed without a clean stop)."""
    dead: set[int] = set()
    for f in Path(path).glob("gauge_live*_*.db"):
        tail = f.stem.rsplit("_", 1)[-1]
        if tail.isdigit() and not _alive(int(tail)):
            dead.add(int(tail))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
    return sorted(dead)


class GaugeSampler:
    """Refreshes this worker's gauges every ``interval_s`` (multi-worker mode only)."""

    def __init__(self, assistant: Any, path: str, interval_s: float = SAMPLE_S) -> None:
        self.assistant = assistant
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval_s,), name="metrics-sampler", daemon=True
        )

    def start(self) -> GaugeSampler:
        sample(self.assistant)
        self._thread.start()
        return self

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                sample(self.assistant)
                sweep_dead_workers(self.path)
            except Exception as exc:  # a metrics hiccup must never stop the worker
                logger.warning("metrics sampling failed: %s", exc)

    def stop(self) -> None:
        """Stop sampling and take this worker's live gauges out of the merged view."""
        self._stop.set()
        self._thread.join(timeout=5)
        multiprocess.mark_process_dead(os.getpid(), self.path)
