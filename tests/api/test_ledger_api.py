"""The cost ledger on a real PostgreSQL: one row per request under concurrency, /v1/costs, CLI.

The service writes to the shared ``query_costs`` table (settings expose no table
prefix), so this test tags its requests with unique request ids and a unique API key,
reads only those back, and deletes them afterwards.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assistant.settings import get_settings
from tests.api.helpers import wait_for_rows
from tests.conftest import LiveServer, make_settings

N = 50
QUESTIONS = [
    "What is overfitting?",
    "How does dropout work?",
    "What is a pandas DataFrame?",
    "How do I undo a git commit?",
    "What is the Bellman equation?",
    "What is retrieval-augmented generation?",
    "What is a feature store?",
    "What is Big-O notation?",
    "How does a hash map work?",
    "What is a Python decorator?",
]


@pytest.fixture
def run_id(postgres_url: str) -> Iterator[str]:
    """A unique tag for this run's request ids; its rows are deleted afterwards."""
    tag = f"ledgerapi-{uuid.uuid4().hex[:10]}"
    yield tag
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("delete from query_costs where request_id like :p"), {"p": tag + "-%"})
    engine.dispose()


@pytest.mark.integration
def test_concurrent_requests_one_row_each(
    postgres_url: str,
    run_id: str,
    corpus_index: Path,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    api_key = f"key-{run_id}"
    key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    settings = make_settings(
        corpus_index,
        tmp_path,
        database_url=postgres_url,
        api_keys=[api_key],
        admin_key="ledger-admin",
        semantic_cache=False,
    )
    with LiveServer(settings, embedder) as srv:

        def one(i: int) -> int:
            r = httpx.post(
                srv.url + "/v1/ask",
                json={"question": QUESTIONS[i % len(QUESTIONS)]},
                headers={"Authorization": f"Bearer {api_key}", "X-Request-ID": f"{run_id}-{i}"},
                timeout=120,
            )
            return r.status_code

        with ThreadPoolExecutor(max_workers=N) as pool:
            statuses = list(pool.map(one, range(N)))
        assert statuses == [200] * N

        rows = wait_for_rows(postgres_url, "request_id like :p", N, p=run_id + "-%")
        assert len(rows) == N
        assert sorted(r["request_id"] for r in rows) == sorted(f"{run_id}-{i}" for i in range(N))
        assert {r["key_id"] for r in rows} == {key_id}
        assert {r["endpoint"] for r in rows} == {"ask"}
        misses = [r for r in rows if r["cache"] == "miss"]
        assert len(QUESTIONS) <= len(misses) < N  # every question missed once at least
        assert all(r["total_ms"] > 0 and r["index_version"] for r in rows)

        url = srv.url + "/v1/costs"
        assert httpx.get(url, params={"by": "key"}).status_code == 403
        client_key = {"Authorization": f"Bearer {api_key}"}
        assert httpx.get(url, params={"by": "key"}, headers=client_key).status_code == 403
        r = httpx.get(url, params={"by": "key"}, headers={"X-API-Key": "ledger-admin"})
        assert r.status_code == 200
        api = r.json()
        mine = api["groups"][key_id]
        assert mine["queries"] == N and mine["cache_hits"] == N - len(misses)
        assert mine["cost_usd"] == 0.0 and mine["p50_total_ms"] > 0
        assert api["totals"]["queries"] >= N

    get_settings.cache_clear()
    try:
        from assistant.cli import main

        result = CliRunner().invoke(
            main,
            ["costs", "--by", "key", "--json"],
            env={"ASSISTANT_DATABASE_URL": postgres_url},
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    assert cli["groups"][key_id] == mine
