"""The service holds one engine (connection pool) for its database, migrated once, used by
the ledger, the conversation log, the coach and the feedback store, and disposed once at
shutdown: over real HTTP, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.assistant.test_ledger_durability import fresh_database
from tests.assistant.test_shared_engine import database_url, disposals, watch_statements
from tests.conftest import LiveServer, make_settings

__all__ = ["database_url", "fresh_database"]  # fixtures shared with the core tests

KEY = "shared-db-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_one_engine_serves_every_store_and_is_disposed_once(
    corpus_index: Path,
    embedder,  # type: ignore[no-untyped-def]
    database_url: str,
    tmp_path: Path,
) -> None:
    settings = make_settings(corpus_index, tmp_path, database_url=database_url, api_keys=[KEY])
    seen, stop = watch_statements()
    server = LiveServer(settings, embedder)
    try:
        srv = server.__enter__()
    finally:
        stop()
    try:
        state = srv.app.state.assistant_state
        engine = state.assistant.ledger.engine
        assert state.assistant.history.engine is engine
        assert state.coach.store.engine is engine and state.feedback.engine is engine
        assert {e for e, _ in seen} == {engine}
        assert len([s for _, s in seen if "alembic_version" in s]) == 1  # migrated once
        disposed = disposals(engine)

        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as http:
            r = http.post("/v1/ask", json={"question": "What is ridge regression?"})
            assert r.status_code == 200, r.text
            answer = r.json()
            r = http.post("/v1/feedback", json={"request_id": answer["request_id"], "rating": "up"})
            assert r.status_code == 200 and r.json()["rating"] == "up", r.text
            listed = http.get("/v1/conversations").json()["conversations"]
            assert [c["id"] for c in listed] == [answer["conversation_id"]]
            assert http.get("/v1/progress").status_code == 200
            ready = http.get("/ready").json()["dependencies"]
            assert ready["ledger"] == "ok" and ready["history"] == "ok"
        assert disposed == []
    finally:
        server.__exit__(None, None, None)
    assert disposed == [engine]  # once, by the last store the lifespan closed
    check = sa.create_engine(database_url)
    try:
        with check.connect() as conn:
            n = conn.execute(sa.text("select count(*) from feedback")).scalar_one()
        assert n == 1
    finally:
        check.dispose()
