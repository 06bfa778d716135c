"""GET /v1/admin/usage (the /admin page's data) on SQLite and PostgreSQL, over real HTTP.

Rows come from real /v1/ask requests (today) and from the service's own ledger for two
earlier days, whose latencies are chosen so the median and the 95th percentile can be
worked out by hand. On PostgreSQL the service writes the shared ``query_costs`` table:
this test compares today's figures before and after its requests, uses days no other
test writes, and deletes its rows afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assistant.ledger import QueryCost
from tests.conftest import LiveServer, make_settings

ADMIN = "usage-admin-key"
CLIENT = "usage-client-key"
TAG = "usage-test-"
QUESTIONS = ["What is overfitting?", "How does dropout work?", "What is overfitting?"]
# Two earlier days: (days ago, [(total_ms, cache, cost_usd, saved_usd)...]).
DAY_A = (3, [(10.0, "miss", 0.002, 0.0), (20.0, "hit", 0.0, 0.002), (30.0, "miss", 0.004, 0.0),
             (40.0, "semantic", 0.0, 0.004), (1000.0, "miss", 0.001, 0.0)])  # fmt: skip
DAY_B = (5, [(float(ms), "miss", 0.0, 0.0) for ms in range(1, 21)])  # 1..20 ms


def past_row(i: int, day: datetime, ms: float, cache: str, cost: float, saved: float) -> QueryCost:
    miss = cache == "miss"
    return QueryCost(
        ts=day + timedelta(hours=1, minutes=i), request_id=f"{TAG}{day:%m%d}-{i}",
        key_id="usage-test", backend="openai", model="gpt-4o-mini", endpoint="ask",
        prompt_tokens=100 if miss else 0, completion_tokens=30 if miss else 0,
        embed_tokens=7 if miss else 0, cost_usd=cost, cache=cache, saved_usd=saved,
        total_ms=ms, index_version="v-test",
    )  # fmt: skip


def delete_test_rows(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("delete from query_costs where request_id like :p or key_id = :k"),
            {"p": TAG + "%", "k": "usage-test"},
        )
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, corpus_index, embedder, tmp_path_factory
) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    settings = make_settings(
        corpus_index, tmp_path_factory.mktemp("usage"), api_keys=[CLIENT], admin_key=ADMIN,
        semantic_cache=False, auth_failures_per_minute=0,
        **({"database_url": url} if url else {}),
    )  # fmt: skip
    with LiveServer(settings, embedder) as srv:
        if url:
            srv.assistant.ledger.flush()
            delete_test_rows(url)  # left by an interrupted run
        try:
            yield srv
        finally:
            if url:
                srv.assistant.ledger.flush()
                delete_test_rows(url)


def usage(srv: LiveServer, days: int = 30, key: str = ADMIN) -> httpx.Response:
    return httpx.get(
        srv.url + "/v1/admin/usage",
        params={"days": days},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def by_day(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["day"]: d for d in body["series"]}


@pytest.mark.integration
def test_usage_per_day_from_real_requests_and_ledger_rows(server: LiveServer) -> None:
    today = datetime.now(UTC).date()
    before = by_day(usage(server).json())[today.isoformat()]
    client = {"Authorization": f"Bearer {CLIENT}"}
    for i, q in enumerate(QUESTIONS):
        r = httpx.post(server.url + "/v1/ask", json={"question": q}, timeout=60,
                       headers={**client, "X-Request-ID": f"{TAG}ask-{i}"})  # fmt: skip
        assert r.status_code == 200, r.text
    for ago, rows in (DAY_A, DAY_B):
        midnight = datetime.combine(today - timedelta(days=ago), time(), UTC)
        for i, values in enumerate(rows):
            server.assistant.ledger.record(past_row(i, midnight, *values))

    r = usage(server, days=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 30 and len(body["series"]) == 30
    assert body["last_day"] == today.isoformat()
    assert body["first_day"] == (today - timedelta(days=29)).isoformat()
    days = [d["day"] for d in body["series"]]
    assert days == sorted(days) and len(set(days)) == 30  # every day once, in order

    series = by_day(body)
    now = series[today.isoformat()]
    assert now["queries"] - before["queries"] == len(QUESTIONS)
    assert now["cache_hits"] - before["cache_hits"] >= 1  # the repeated question
    assert now["embed_tokens"] > before["embed_tokens"]  # the misses embedded their question

    a = series[(today - timedelta(days=DAY_A[0])).isoformat()]
    assert (a["queries"], a["cache_hits"], a["semantic_hits"]) == (5, 2, 1)
    assert (a["prompt_tokens"], a["completion_tokens"], a["embed_tokens"]) == (300, 90, 21)
    assert a["cost_usd"] == pytest.approx(0.007) and a["saved_usd"] == pytest.approx(0.006)
    assert a["p50_total_ms"] == 30.0 and a["p95_total_ms"] == 1000.0  # ceil(0.95*5) = row 5
    b = series[(today - timedelta(days=DAY_B[0])).isoformat()]
    assert b["queries"] == 20 and b["p50_total_ms"] == 10.5  # mean of rows 10 and 11
    assert b["p95_total_ms"] == 19.0  # ceil(0.95*20) = row 19
    empty = series[(today - timedelta(days=4)).isoformat()]
    assert empty["queries"] == 0 and empty["p95_total_ms"] == 0.0

    # The same aggregation as `assistant costs --by day` (/v1/costs).
    costs = httpx.get(server.url + "/v1/costs", params={"by": "day"},
                      headers={"X-API-Key": ADMIN}).json()  # fmt: skip
    assert costs["groups"][a["day"]] == {k: v for k, v in a.items() if k != "day"}
    assert body["totals"]["queries"] == sum(d["queries"] for d in body["series"])

    week = usage(server, days=4).json()  # day B is outside, day A is its first day
    assert len(week["series"]) == 4 and week["series"][0]["day"] == a["day"]
    assert week["series"][0]["queries"] == 5


def test_usage_needs_the_admin_key_and_a_valid_window(server: LiveServer) -> None:
    url = server.url + "/v1/admin/usage"
    for headers in ({}, {"Authorization": f"Bearer {CLIENT}"}, {"Authorization": "Bearer nope"}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error"]["type"] == "forbidden"
    for days in (0, -1, 367, "many"):
        r = usage(server, days=days)  # type: ignore[arg-type]
        assert r.status_code == 422 and "days" in r.json()["error"]["message"], r.text
    assert usage(server, days=1).json()["series"][0]["day"] == datetime.now(UTC).date().isoformat()
