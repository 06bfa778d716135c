"""A real Redis stopped, frozen and restarted under a running service: it keeps answering."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.assistant.own_redis import RedisProcess, running_redis
from tests.conftest import LiveServer, make_settings

TIMEOUT_S = 0.25  # ASSISTANT_REDIS_TIMEOUT_S of the service under test
COOLDOWN_S = 1.0  # RedisGuard's cool-down: how often a dead Redis is probed again


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    yield from running_redis()


def ask(c: httpx.Client, question: str) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    r = c.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json(), time.perf_counter() - t0


def redis_state(c: httpx.Client) -> tuple[str, bool]:
    r = c.get("/ready")
    assert r.status_code == 200  # the index is loaded: still ready, only degraded
    return r.json()["dependencies"]["redis"], r.json()["degraded"]


@pytest.mark.integration
@pytest.mark.slow
def test_service_survives_redis_outages(
    own_redis: RedisProcess,
    corpus_index: Path,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        corpus_index, tmp_path, redis_url=own_redis.url, redis_timeout_s=TIMEOUT_S
    )
    with LiveServer(settings, embedder) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        question = "What is a confusion matrix used for?"
        first, _ = ask(c, question)
        assert first["cache"] == "miss" and first["degraded"] is False
        hit, _ = ask(c, question)
        assert hit["cache"] == "hit"
        assert redis_state(c) == ("ok", False)
        # Normal latency of an uncached answer whose passages are already warm (worst of 3).
        normal_s = max(ask(c, f"what is a confusion matrix for? ({n})")[1] for n in range(3))

        # --- stopped: connections are refused ---------------------------------------
        # The answer this process served is still served from its hot copy, marked
        # degraded: the turn could not be kept, so a follow-up would start anew.
        own_redis.stop()
        for n in range(3):
            body, took = ask(c, question)
            assert body["cache"] == "hit" and body["degraded"] is True, body
            assert body["answer"] == first["answer"] and body["citations"] == first["citations"]
            assert took < normal_s + 2 * TIMEOUT_S + 1.0, (n, took, normal_s)
        new, took = ask(c, "what is a confusion matrix for? (outage)")
        assert new["cache"] == "miss" and new["degraded"] is True, new
        assert took < normal_s + 2 * TIMEOUT_S + 1.0, (took, normal_s)
        state, degraded = redis_state(c)
        assert state.startswith("down (") and degraded is True
        assert httpx.post(srv.url + "/v1/search", json={"query": "recall"}).status_code == 200

        # --- restarted (empty, no persistence): the service recovers by itself --------
        own_redis.start()
        time.sleep(COOLDOWN_S + 0.2)
        recovered, _ = ask(c, question)
        assert recovered["cache"] == "hit" and recovered["degraded"] is False
        again = "what is a confusion matrix for? (after the restart)"
        assert ask(c, again)[0]["cache"] == "miss"
        assert ask(c, again)[0]["cache"] == "hit"
        assert redis_state(c) == ("ok", False)
        store = redis.Redis.from_url(own_redis.url)
        answers = [k for k in store.scan_iter("sa:*") if re.fullmatch(rb"sa:[0-9a-f]{64}", k)]
        turns = list(store.scan_iter("sa:conv:*"))
        assert len(answers) == 1 and turns, (answers, turns)  # stored again in the new Redis

        # --- frozen (SIGSTOP): every call would hang until the socket timeout ---------
        own_redis.freeze()
        try:
            t0 = time.perf_counter()
            frozen = [ask(c, question) for _ in range(3)]
            for body, took in frozen:
                assert body["cache"] == "hit" and body["degraded"] is True
                assert took < normal_s + 3 * TIMEOUT_S + 1.0, (took, normal_s)
            # Only one timeout per cool-down, not one per request and call.
            assert time.perf_counter() - t0 < 3 * normal_s + 4 * TIMEOUT_S + 1.5
        finally:
            own_redis.resume()
        time.sleep(COOLDOWN_S + 0.2)
        after, _ = ask(c, question)
        assert after["cache"] == "hit" and after["degraded"] is False
        assert redis_state(c) == ("ok", False)
        assert store.exists(*answers) == 1  # the stored answer survived the freeze
