"""A repeated first question answered on the event loop from this process's hot copy.

Everything an ordinary cache hit does must still happen: the turn is in Redis before
the response (a follow-up continues it), the rating finds the answered turn, the ledger
has the row, the learner's progress counts it. Real Redis, SQLite and uvicorn.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.conftest import LiveServer, make_settings

QUESTION = "When should I use Lasso instead of Ridge?"


def ask(srv: LiveServer, learner: str, question: str, **extra: Any) -> dict[str, Any]:
    r = httpx.post(
        srv.url + "/v1/ask",
        json={"question": question, **extra},
        headers={"X-Learner-Id": learner},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def answered_count(srv: LiveServer) -> float:
    """``assistant_http_requests_total`` of successful POST /v1/ask, from /metrics."""
    metrics = httpx.get(srv.url + "/metrics", timeout=30).text
    label = 'assistant_http_requests_total{method="POST",route="/v1/ask",status="200"} '
    line = next((x for x in metrics.splitlines() if x.startswith(label)), label + "0")
    return float(line.removeprefix(label))


def test_a_hot_answer_keeps_the_turn_the_rating_the_cost_and_the_progress(
    corpus_index, embedder, tmp_path: Path, clean_redis: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(corpus_index, tmp_path, redis_url=clean_redis)
    store = redis.Redis.from_url(clean_redis)
    with LiveServer(settings, embedder) as srv:
        learner = httpx.get(srv.url + "/v1/progress", timeout=30).headers["X-Learner-Id"]
        first = ask(srv, learner, QUESTION)
        assert first["cache"] == "miss" and first["citations"]
        store.flushdb()  # Redis forgets everything: only the process's hot copy is left
        hot = ask(srv, learner, QUESTION)
        assert hot["cache"] == "hit" and hot["degraded"] is False
        assert (hot["answer"], hot["citations"]) == (first["answer"], first["citations"])
        assert hot["conversation_id"] != first["conversation_id"]
        # Committed before the response went out, not some time later.
        assert len(list(store.scan_iter("sa:conv:*"))) == 1
        assert len(list(store.scan_iter("sa:answered:*"))) == 1

        # Streamed, the same answer comes as the route sends a hit: meta, one delta, done.
        streamed = httpx.post(
            srv.url + "/v1/ask",
            json={"question": QUESTION, "stream": True},
            headers={"X-Learner-Id": learner},
            timeout=60,
        )
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = [
            (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("data: ", 1)[1]))
            for block in streamed.text.strip().split("\n\n")
        ]
        assert [name for name, _ in events] == ["meta", "delta", "done"]
        meta, delta, done = (data for _, data in events)
        assert meta["cache"] == done["cache"] == "hit" and delta["text"] == done["answer"]
        assert meta["request_id"] == done["request_id"] != hot["request_id"]
        assert done["answer"] == first["answer"] and done["citations"] == first["citations"]

        follow = ask(
            srv, learner, "and when is Ridge better?", conversation_id=hot["conversation_id"]
        )
        assert follow["conversation_id"] == hot["conversation_id"]  # the turn was found

        rated = httpx.post(
            srv.url + "/v1/feedback",
            json={"request_id": hot["request_id"], "rating": "up"},
            timeout=30,
        )
        assert rated.status_code == 200, rated.text  # 404 unless the ledger has the row
        progress = httpx.get(
            srv.url + "/v1/progress", headers={"X-Learner-Id": learner}, timeout=30
        ).json()["phases"]
        # The client's request id is the answer's; the metrics label it with its route
        # (the registry is the test process's: count what this request adds).
        before = answered_count(srv)
        mine = httpx.post(
            srv.url + "/v1/ask",
            json={"question": QUESTION},
            headers={"X-Request-ID": "client-chosen-1"},
            timeout=60,
        )
        assert mine.json()["cache"] == "hit" and mine.json()["request_id"] == "client-chosen-1"
        assert mine.headers["x-request-id"] == "client-chosen-1"
        assert answered_count(srv) == before + 1
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        question, answer = db.execute(
            "select question, answer from feedback where request_id = ?", (hot["request_id"],)
        ).fetchone()
        cache, saved = db.execute(
            "select cache, saved_usd from query_costs where request_id = ?", (hot["request_id"],)
        ).fetchone()
    assert (question, answer) == (QUESTION, hot["answer"])  # the answered turn was remembered
    assert cache == "hit" and saved == first["usage"]["cost_usd"]
    counted = [first, hot, done, follow]
    assert sum(p["questions_asked"] for p in progress) == sum(bool(a["citations"]) for a in counted)


def test_without_hot_copies_a_forgotten_answer_is_a_miss(
    corpus_index, embedder, tmp_path: Path, clean_redis: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(corpus_index, tmp_path, redis_url=clean_redis, hot_answer_ttl_s=0)
    with LiveServer(settings, embedder) as srv:
        learner = "0" * 32  # not issued: counted nowhere, the conversation is the key's
        assert ask(srv, learner, QUESTION)["cache"] == "miss"
        assert ask(srv, learner, QUESTION)["cache"] == "hit"  # from Redis
        redis.Redis.from_url(clean_redis).flushdb()
        assert ask(srv, learner, QUESTION)["cache"] == "miss"


def test_hot_answers_keep_keys_and_rate_limits(corpus_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        corpus_index, tmp_path, api_keys=["hot-key-1"], rate_limit_per_minute=6
    )
    auth = {"Authorization": "Bearer hot-key-1"}
    with LiveServer(settings, embedder) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        assert (
            c.post("/v1/ask", json={"question": QUESTION}, headers=auth).json()["cache"] == "miss"
        )
        assert c.post("/v1/ask", json={"question": QUESTION}, headers=auth).json()["cache"] == "hit"
        # A hot answer is still refused without the key, or with another one (401) ...
        assert c.post("/v1/ask", json={"question": QUESTION}).status_code == 401
        wrong = c.post("/v1/ask", json={"question": QUESTION}, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "unauthorized"
        # ... a body the route would not read as JSON is its 422, not a hot answer (a
        # text/plain post is what a browser sends cross-site without a preflight) ...
        for kind in ("text/plain", "application/x-www-form-urlencoded"):
            raw = c.post(
                "/v1/ask",
                content=b'{"question": "' + QUESTION.encode() + b'"}',
                headers={**auth, "Content-Type": kind},
            )
            assert raw.status_code == 422, (kind, raw.text)
        typed = c.post(
            "/v1/ask",
            content=b'{"question": "' + QUESTION.encode() + b'"}',
            headers={**auth, "Content-Type": "application/vnd.api+json; charset=utf-8"},
        )
        assert typed.status_code == 200 and typed.json()["cache"] == "hit"
        # ... and bad input is worded by the route (422), not served from the hot copy.
        bad = c.post("/v1/ask", json={"question": QUESTION, "k": 0}, headers=auth)
        assert bad.status_code == 422 and "k" in bad.text
        # That was the sixth admitted request of the minute (bad input counts too): the next is
        # refused, hot answer or not, and once only (a hot path that declined and then the
        # route both counting would have refused it one request earlier).
        limited = c.post("/v1/ask", json={"question": QUESTION}, headers=auth)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
