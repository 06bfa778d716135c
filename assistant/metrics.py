"""Domain metrics in Prometheus form: answers, tokens, cost, cache savings, model failures.

Named by the Prometheus conventions: counters end in ``_total``, durations are
``_seconds``, money is ``_usd`` (the unit in the name). Counted where an answer is
recorded (``observe_answer``, once per answer, from its ledger row) and where the
configured model fails (``upstream_failed``). Process-level gauges (ledger queue, breaker)
are sampled by the API, which owns the exposition (``api.metrics``).

With ``PROMETHEUS_MULTIPROC_DIR`` set (``assistant serve --workers N`` sets it) every
worker writes its values to files there and one scrape sums them all. The label children
are resolved once here, so an answer costs a few ``inc`` calls and no label lookups: on a
cache hit two (the answer, its latency) and a third when the hit saved money.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from assistant.errors import UpstreamModelError, UpstreamTimeoutError

if TYPE_CHECKING:
    from assistant.ledger import QueryCost

CACHE_OUTCOMES = ("hit", "semantic", "miss")  # hit: exact; semantic: a near-identical question

ANSWERS = Counter(
    "assistant_answers_total",
    "Answers given, by cache outcome (hit = exact, semantic, miss)",
    ["cache"],
)
TOKENS = Counter(
    "assistant_tokens_total",
    "Tokens spent answering, by kind (prompt, completion, embedding of the question)",
    ["kind"],
)
COST = Counter("assistant_cost_usd_total", "What the answers cost, in US dollars")
SAVED = Counter(
    "assistant_cache_saved_usd_total", "What cached answers did not cost again, in US dollars"
)
DEGRADED = Counter(
    "assistant_degraded_answers_total", "Answers given degraded (fallback model, cache down)"
)
UPSTREAM_FAILURES = Counter(
    "assistant_upstream_failures_total",
    "Calls to the configured model that failed (the extractive fallback answered)",
    ["backend", "reason"],
)
ANSWER_SECONDS = Histogram(
    "assistant_answer_duration_seconds",
    "Time to a complete answer, by cache outcome",
    ["cache"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

_answers = {c: ANSWERS.labels(c) for c in CACHE_OUTCOMES}
_seconds = {c: ANSWER_SECONDS.labels(c) for c in CACHE_OUTCOMES}
_prompt, _completion, _embedding = (TOKENS.labels(k) for k in ("prompt", "completion", "embedding"))


def observe_answer(row: QueryCost) -> None:
    """Count one answer from its ledger row (zeros are skipped: a hit spends nothing)."""
    cache = row.cache if row.cache in _answers else "miss"
    _answers[cache].inc()
    _seconds[cache].observe(row.total_ms / 1000)
    if row.prompt_tokens:
        _prompt.inc(row.prompt_tokens)
    if row.completion_tokens:
        _completion.inc(row.completion_tokens)
    if row.embed_tokens:
        _embedding.inc(row.embed_tokens)
    if row.cost_usd:
        COST.inc(row.cost_usd)
    if row.saved_usd:
        SAVED.inc(row.saved_usd)
    if row.degraded:
        DEGRADED.inc()


def upstream_failed(backend: str, exc: UpstreamModelError) -> None:
    """Count one failed call to the configured model (``reason``: timeout or error)."""
    reason = "timeout" if isinstance(exc, UpstreamTimeoutError) else "error"
    UPSTREAM_FAILURES.labels(backend, reason).inc()
