"""/ready and /metrics tell when ledger rows are not reaching the database (issue 11
item 13): a real service, its real PostgreSQL behind a loopback proxy the test stops."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.assistant.tcp_proxy import TcpProxy
from tests.assistant.test_ledger_durability import fresh_database, proxy, request_ids
from tests.conftest import LiveServer, make_settings
from tests.indexing.minicorpus import Template

__all__ = ["fresh_database", "proxy"]  # fixtures shared with the core ledger tests

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def template(embedder, tmp_path_factory: pytest.TempPathFactory) -> Template:  # type: ignore[no-untyped-def]
    return Template(embedder, tmp_path_factory.mktemp("ledger-health-template"))


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_ready_and_metrics_show_the_ledger_down_spilling_and_back(
    embedder, template: Template, proxy: tuple[TcpProxy, str], fresh_database: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    p, url = proxy
    _, index_dir = template.copy(tmp_path / "own")
    settings = make_settings(
        index_dir, tmp_path, database_url=url, ledger_spill_dir=tmp_path / "spill",
        semantic_cache=False,
    )  # fmt: skip
    with LiveServer(settings, embedder) as srv:
        ready = httpx.get(srv.url + "/ready").json()
        assert ready["dependencies"]["ledger"] == "ok" and ready["ledger"]["queue_depth"] == 0
        p.stop()
        for i in range(3):
            r = httpx.post(srv.url + "/v1/ask", json={"question": f"what is ridge regression {i}?"})
            assert r.status_code == 200  # answering never waits for the ledger
        srv.assistant.ledger.flush(timeout_s=60)
        deadline = time.monotonic() + 120
        while httpx.get(srv.url + "/ready").json()["ledger"]["spilled_rows"] < 3:
            assert time.monotonic() < deadline, "rows never reached the spill file"
            time.sleep(0.1)
        r = httpx.get(srv.url + "/ready")
        body = r.json()
        assert r.status_code == 200 and body["degraded"] is True  # still serving answers
        assert body["dependencies"]["ledger"].startswith("down (OperationalError")
        assert body["ledger"]["healthy"] is False and body["ledger"]["dropped_rows"] == 0
        text = httpx.get(srv.url + "/metrics").text
        assert metric(text, "assistant_ledger_healthy") == 0
        assert metric(text, "assistant_ledger_spill_pending_rows") == 3
        assert metric(text, "assistant_ledger_spilled_rows_total") >= 3
        assert metric(text, "assistant_ledger_queue_depth") == 0
        assert "assistant_ledger_dropped_rows_total" in text

        p.start()
        while httpx.get(srv.url + "/ready").json()["ledger"]["spilled_rows"] > 0:
            assert time.monotonic() < deadline + 120, "the spill was never replayed"
            time.sleep(0.1)
        body = httpx.get(srv.url + "/ready").json()
        assert body["dependencies"]["ledger"] == "ok" and body["degraded"] is False
        assert metric(httpx.get(srv.url + "/metrics").text, "assistant_ledger_healthy") == 1
    assert len(request_ids(fresh_database)) == 3
    sa.create_engine(fresh_database).dispose()


def test_ready_shows_the_conversation_history_down_and_back(
    embedder, template: Template, proxy: tuple[TcpProxy, str], fresh_database: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    p, url = proxy
    _, index_dir = template.copy(tmp_path / "own")
    settings = make_settings(
        index_dir, tmp_path, database_url=url, ledger_spill_dir=tmp_path / "spill",
        semantic_cache=False, api_keys=["history-key"],
    )  # fmt: skip
    auth = {"Authorization": "Bearer history-key"}  # a private key keeps its conversations

    def history() -> str:
        return str(httpx.get(srv.url + "/ready").json()["dependencies"]["history"])

    with LiveServer(settings, embedder) as srv:
        assert history() == "ok"
        p.stop()
        r = httpx.post(srv.url + "/v1/ask", json={"question": "what is ridge?"}, headers=auth)
        assert r.status_code == 200  # the turn waits in the log's queue or spill file
        deadline = time.monotonic() + 120
        while not history().startswith("down ("):
            assert time.monotonic() < deadline, "the history never showed down"
            time.sleep(0.1)
        body = httpx.get(srv.url + "/ready").json()
        assert body["degraded"] is True and "OperationalError" in history()
        p.start()
        while history() != "ok":
            assert time.monotonic() < deadline + 120, "the history never came back"
            time.sleep(0.1)
        listed = httpx.get(srv.url + "/v1/conversations", headers=auth).json()["conversations"]
        assert [c["id"] for c in listed] == [r.json()["conversation_id"]]  # the turn was kept
