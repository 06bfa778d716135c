"""What /ready says of each collaborator of the service: "ok", "in-process" or "down (why)"."""

from __future__ import annotations

from assistant.conversation_log import SqlConversationLog
from assistant.protocols import Cache, CostLedger, Generator, HealthReporting


def dependency_states(
    cache: Cache,
    ledger: CostLedger,
    history: SqlConversationLog | None,
    generator: Generator,
    *,
    redis: bool,
) -> dict[str, str]:
    """The state of each part; ``redis``: the answer cache lives in Redis (asked now)."""
    deps: dict[str, str] = {}
    if redis:
        ok = cache.ping()
        deps["redis"] = "ok" if ok else f"down ({cache.last_error or 'no answer'})"
    else:
        deps["cache"] = "in-process"
    ledger_ok = not isinstance(ledger, HealthReporting) or ledger.healthy
    why = getattr(ledger, "last_error", None) or "stalled"
    deps["ledger"] = "ok" if ledger_ok else f"down ({why})"
    if history is not None:  # kept conversations: written in the background like the ledger
        deps["history"] = "ok" if history.healthy else f"down ({history.last_error or 'stalled'})"
    deps["llm"] = f"{generator.backend} ({generator.model})"
    breaker = getattr(getattr(generator, "breaker", None), "state", None)
    if breaker is not None and str(breaker) != "closed":
        deps["llm"] = f"down (circuit breaker {breaker}; {deps['llm']})"
    return deps
