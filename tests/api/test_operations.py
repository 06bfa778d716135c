"""Operations and safety over real HTTP: probes, metrics, index and roadmap, admin, API keys,
rate limits, CORS, body and question limits, validation messages, request ids, OpenAPI."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.types import Chunk
from tests.api.helpers import ledger_rows
from tests.conftest import LiveServer, make_settings

KEY, OTHER_KEY, ADMIN = "k1-client-secret", "k2-client-secret", "adm-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
ALLOWED_ORIGIN = "http://allowed.example"


@pytest.fixture(scope="module")
def secured(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("secured")
    settings = make_settings(
        corpus_index,
        tmp,
        api_keys=[KEY, OTHER_KEY],
        admin_key=ADMIN,
        cors_origins=[ALLOWED_ORIGIN],
        max_body_bytes=4096,
        max_question_chars=300,
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


@pytest.fixture
def http(secured: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.url, headers=AUTH, timeout=30) as c:
        yield c


def ledger_count(srv: LiveServer) -> int:
    assert srv.assistant.ledger.flush()
    return len(ledger_rows(srv.settings.database_url, "1 = 1"))


# ------------------------------------------------------------------------------ probes
def test_health_and_ready(secured: LiveServer) -> None:
    # Probes need no API key: Kubernetes calls them.
    assert httpx.get(secured.url + "/health").json() == {"status": "ok"}
    r = httpx.get(secured.url + "/ready")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["degraded"] is False
    assert body["index_version"] == secured.assistant.snapshot.version
    assert body["dependencies"] == {
        "cache": "in-process",
        "ledger": "ok",
        "history": "ok",
        "llm": "extractive (extractive:sentence-transformers/all-MiniLM-L6-v2)",
    }


def test_not_ready_without_an_index(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "no-index"
    empty.mkdir()
    with LiveServer(make_settings(empty, tmp_path), embedder) as srv:
        assert httpx.get(srv.url + "/health").status_code == 200
        r = httpx.get(srv.url + "/ready")
        assert r.status_code == 503 and r.json()["ready"] is False
        r = httpx.post(srv.url + "/v1/ask", json={"question": "what is ridge?"})
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["type"] == "index_not_built" and "assistant index build" in error["message"]


def test_metrics_are_prometheus_text(secured: LiveServer, http: httpx.Client) -> None:
    assert http.post("/v1/search", json={"query": "pandas groupby"}).status_code == 200
    r = httpx.get(secured.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name, kind in [
        ("assistant_http_requests_total", "counter"),
        ("assistant_http_request_duration_seconds", "histogram"),
        ("assistant_index_chunks", "gauge"),
        ("assistant_ready", "gauge"),
    ]:
        assert f"# TYPE {name} {kind}" in text
    assert re.search(
        r'assistant_http_requests_total\{method="POST",route="/v1/search",status="200"\} [1-9]',
        text,
    )
    assert 'assistant_http_request_duration_seconds_bucket{le="0.005",route="/v1/search"}' in text
    chunks = len(secured.assistant.snapshot.chunks)
    assert f"assistant_index_chunks {float(chunks)}" in text


def test_index_description(secured: LiveServer, index_chunks: dict[str, Chunk]) -> None:
    body = httpx.get(secured.url + "/v1/index", headers=AUTH).json()
    assert body["index_version"] == secured.assistant.snapshot.version
    assert body["counts"]["chunks"] == len(index_chunks)
    assert body["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert body["model"]["dimension"] == 384
    assert body["chunking"] and body["index_type"] == "flat" and body["sources"] >= 10


def test_roadmap_has_nine_phases_with_material(
    secured: LiveServer, index_chunks: dict[str, Chunk]
) -> None:
    body = httpx.get(secured.url + "/v1/roadmap", headers=AUTH).json()
    phases = body["phases"]
    assert [p["number"] for p in phases] == list(range(1, 10))
    sources = {c.source for c in index_chunks.values()}
    for p in phases:
        assert p["heading"].startswith(f"Phase {p['number']}: ") and p["title"]
        assert p["goal"], p["heading"]
        assert p["topics"] and all(p["topics"].values()), p["heading"]
        assert p["material"], p["heading"]
        notes = [m["source"] for m in p["material"] if m["source"].startswith("notes/")]
        assert notes and all(n.startswith(f"notes/phase-{p['number']}-") for n in notes), notes
        for m in p["material"]:
            assert m["source"] in sources and m["chunks"] > 0 and m["sections"]
    # The roadmap states a suggested time only for its first two phases.
    assert [p["time"] for p in phases[:2]] == ["1–2 months", "~1 month"]
    assert any("Ridge" in topic for group in phases[4]["topics"].values() for topic in group)


# ------------------------------------------------------------------------------ admin
def test_costs_and_reload_need_the_admin_key(secured: LiveServer) -> None:
    for path, method in [("/v1/costs", "GET"), ("/v1/admin/reload", "POST")]:
        assert httpx.request(method, secured.url + path).status_code == 403
        r = httpx.request(method, secured.url + path, headers=AUTH)
        assert r.status_code == 403 and "admin key" in r.json()["error"]["message"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    costs = httpx.get(secured.url + "/v1/costs", params={"by": "model"}, headers=admin)
    assert costs.status_code == 200
    assert {"totals", "groups", "builds", "since", "by"} <= set(costs.json())
    bad = httpx.get(secured.url + "/v1/costs", params={"since": "last tuesday"}, headers=admin)
    assert bad.status_code == 422 and "'last tuesday'" in bad.json()["error"]["message"]
    reload = httpx.post(secured.url + "/v1/admin/reload", headers={"X-API-Key": ADMIN})
    assert reload.json() == {
        "reloaded": False,
        "index_version": secured.assistant.snapshot.version,
    }


# ------------------------------------------------------------------------------ API keys
def test_api_keys(secured: LiveServer) -> None:
    url = secured.url + "/v1/search"
    body = {"query": "git rebase", "k": 2}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "API key is required" in missing.json()["error"]["message"]
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "unknown API key"
    assert httpx.post(url, json=body, headers={"X-API-Key": "nope"}).status_code == 401
    assert httpx.post(url, json=body, headers=AUTH).status_code == 200
    assert httpx.post(url, json=body, headers={"X-API-Key": OTHER_KEY}).status_code == 200


def test_ledger_stores_a_key_hash_never_the_key(secured: LiveServer, http: httpx.Client) -> None:
    r = http.post(
        "/v1/ask",
        json={"question": "How do I undo a git commit?"},
        headers={"X-Request-ID": "ops-key-hash-1"},
    )
    assert r.status_code == 200 and r.json()["request_id"] == "ops-key-hash-1"
    assert secured.assistant.ledger.flush()
    rows = ledger_rows(secured.settings.database_url, "request_id = 'ops-key-hash-1'")
    assert len(rows) == 1
    assert rows[0]["key_id"] == hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert not any(KEY in str(v) for v in rows[0].values())


def test_rate_limit_per_key(corpus_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        corpus_index, tmp_path, api_keys=[KEY, OTHER_KEY], rate_limit_per_minute=3
    )
    with LiveServer(settings, embedder) as srv:
        url = srv.url + "/v1/models"
        assert [httpx.get(url, headers=AUTH).status_code for _ in range(3)] == [200] * 3
        limited = httpx.get(url, headers=AUTH)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20  # one request per 20 s refills
        assert "rate limit of 3 requests per minute" in limited.json()["error"]["message"]
        # Another key has its own budget.
        assert httpx.get(url, headers={"X-API-Key": OTHER_KEY}).status_code == 200


# ------------------------------------------------------------------------------ limits
def test_body_over_the_limit_is_413(http: httpx.Client) -> None:
    big = {"question": "x" * 5000}
    r = http.post("/v1/ask", json=big)
    assert r.status_code == 413
    message = r.json()["error"]["message"]
    assert "the limit is 4096" in message and "ASSISTANT_MAX_BODY_BYTES" in message

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'{"question": "'
        for _ in range(60):
            yield b"y" * 100
        yield b'"}'

    r = http.post("/v1/ask", content=chunked(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert "the limit is 4096" in r.json()["error"]["message"]
    assert r.headers["x-request-id"]


def test_long_question_names_the_limit(http: httpx.Client) -> None:
    r = http.post("/v1/ask", json={"question": "why " * 100})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "question is 399 characters, the limit is 300"
    r = http.post("/v1/ask", json={"question": "why " * 100, "stream": True})
    assert r.status_code == 422 and "the limit is 300" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"question": "what is ridge?", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": "what is ridge?", "k": 500}, "k: Input should be less than or equal to 50"),
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "   "}, "question must not be empty"),
        ({"question": 42}, "question: Input should be a valid string"),
        ({"question": "ridge", "k": "many"}, "k: Input should be a valid integer"),
        ({"question": "ridge", "stream": "sometimes"}, "stream: Input should be a valid boolean"),
        ({"question": "ridge", "history": [{"role": "robot", "content": "x"}]}, "history.0.role"),
        ({}, "question: Field required"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    http: httpx.Client, body: dict[str, Any], expected: str
) -> None:
    r = http.post("/v1/ask", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"] == "bad_input"
    assert expected in r.json()["error"]["message"]


def test_malformed_json_is_422(http: httpx.Client) -> None:
    r = http.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]["message"]


def test_bad_input_loses_nothing(secured: LiveServer, http: httpx.Client) -> None:
    before = ledger_count(secured)
    conv = "ops-conversation-1"
    bad = [
        {"question": "what is pandas?", "k": 0, "conversation_id": conv},
        {"question": "   ", "conversation_id": conv},
        {"question": "why " * 100, "conversation_id": conv},
        {"question": "what is pandas?", "phases": "x", "conversation_id": conv},
        {"question": "what is pandas?" + " " * 5000, "conversation_id": conv},
    ]
    statuses = [http.post("/v1/ask", json=b).status_code for b in bad]
    assert statuses == [422, 422, 422, 422, 413]
    assert ledger_count(secured) == before
    assert secured.assistant.cache.get(f"conv:{conv}") is None
    # The service keeps answering, and the conversation starts clean.
    ok = http.post(
        "/v1/ask", json={"question": "What is a pandas DataFrame?", "conversation_id": conv}
    )
    assert ok.status_code == 200 and ok.json()["citations"]
    assert ledger_count(secured) == before + 1
    # Conversation ids are issued by the server: an id it never issued starts a new one.
    issued = ok.json()["conversation_id"]
    assert issued != conv
    owner = hashlib.sha256(KEY.encode()).hexdigest()[:16]
    stored = secured.assistant.conversations.open(owner, issued)
    assert stored.continued and [m["role"] for m in stored.history] == ["user", "assistant"]


# ------------------------------------------------------------------------------ CORS, ids
def test_cors_allow_list(secured: LiveServer) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    ok = httpx.options(secured.url + "/v1/ask", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    other = httpx.options(
        secured.url + "/v1/ask", headers={"Origin": "http://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    simple = httpx.get(secured.url + "/health", headers={"Origin": ALLOWED_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "X-Request-ID" in simple.headers["access-control-expose-headers"]
    assert (
        "access-control-allow-origin"
        not in httpx.get(secured.url + "/health", headers={"Origin": "http://evil.example"}).headers
    )


def test_request_ids_are_echoed_or_generated(http: httpx.Client) -> None:
    r = http.post(
        "/v1/search", json={"query": "bash pipes"}, headers={"X-Request-ID": "trace-abc-123"}
    )
    assert r.headers["x-request-id"] == "trace-abc-123"
    generated = http.post("/v1/search", json={"query": "bash pipes"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    error = http.post("/v1/ask", json={"question": ""}, headers={"X-Request-ID": "trace-bad-1"})
    assert error.headers["x-request-id"] == "trace-bad-1"
    assert error.json()["error"]["request_id"] == "trace-bad-1"
    answer = http.post(
        "/v1/ask", json={"question": "What is git bisect?"}, headers={"X-Request-ID": "trace-ask-1"}
    )
    assert answer.json()["request_id"] == "trace-ask-1"
    long = http.post("/v1/search", json={"query": "bash"}, headers={"X-Request-ID": "r" * 200})
    assert long.headers["x-request-id"] == "r" * 64


def test_openapi_lists_routes_and_examples(secured: LiveServer) -> None:
    spec = httpx.get(secured.url + "/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/ask", "post"), ("/v1/search", "post"), ("/v1/chat/completions", "post"),
        ("/v1/models", "get"), ("/health", "get"), ("/ready", "get"), ("/metrics", "get"),
        ("/v1/index", "get"), ("/v1/roadmap", "get"), ("/v1/costs", "get"),
        ("/v1/admin/reload", "post"),
    ]:  # fmt: skip
        assert method in paths.get(path, {}), (path, method)
    assert paths["/v1/ask"]["post"]["summary"].startswith("Answer a question")
    schemas = spec["components"]["schemas"]
    assert schemas["AskRequest"]["examples"][0]["question"]
    assert schemas["SearchRequest"]["examples"][0]["query"]
    assert {"answer", "citations", "usage", "cache", "index_version", "degraded"} <= set(
        schemas["AskResponse"]["properties"]
    )
