"""A hung model does not stall the server, and a leaking model is refused (issue 11,
items 7 and 8), over real HTTP with the fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.errors import ConfigError
from assistant.factory import make_generator
from assistant.output_guard import leaked_words
from assistant.prompts import SYSTEM_PROMPT
from assistant.settings import Settings
from tests.conftest import LiveServer, make_settings
from tests.fakes.openai_server import OpenAIServer, Reply

PROBE_TIMEOUT_S = 3.0  # a Kubernetes probe's timeout: a correctness bound, not a benchmark


@pytest.fixture
def fake_llm() -> Iterator[OpenAIServer]:
    with OpenAIServer(model="fake-gpt") as srv:
        yield srv


def llm_settings(index_dir: Path, tmp: Path, url: str, **kw: Any) -> Settings:
    return make_settings(  # type: ignore[no-any-return]
        index_dir,
        tmp,
        llm_backend="openai",
        llm_model="fake-gpt",
        llm_base_url=url,
        llm_max_retries=0,
        semantic_cache=False,
        **kw,
    )


def test_a_hung_model_leaves_probes_answering_and_questions_degraded(
    fake_llm: OpenAIServer,
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    fake_llm.default = Reply.stall(120)  # never answers within the test
    settings = llm_settings(
        corpus_index,
        tmp_path,
        fake_llm.url,
        llm_timeout_s=30,
        llm_stall_timeout_s=10,
        llm_max_concurrency=4,
        llm_queue_wait_s=0.2,
    )
    n = 40
    results: list[httpx.Response | Exception] = [None] * n  # type: ignore[list-item]

    with LiveServer(settings, embedder) as srv:

        def ask(i: int) -> None:
            try:
                results[i] = httpx.post(
                    srv.url + "/v1/ask",
                    json={"question": f"How does ridge regression penalise weights? (learner {i})"},
                    timeout=120,
                )
            except Exception as exc:  # reported below
                results[i] = exc

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        # Wait until the model holds every slot it may have, then probe.
        deadline = threading.Event()
        while len(fake_llm.completions) < 4 and not deadline.wait(0.05):
            if not any(t.is_alive() for t in threads):
                break
        assert len(fake_llm.completions) >= 4, "the questions never reached the model"
        for path in ("/health", "/ready", "/metrics"):
            r = httpx.get(srv.url + path, timeout=PROBE_TIMEOUT_S)
            assert r.status_code == 200, (path, r.text[:200])
        assert httpx.get(srv.url + "/ready", timeout=PROBE_TIMEOUT_S).json()["ready"] is True
        in_flight = srv.assistant.generator.limit.in_flight
        assert in_flight <= 4, "concurrent model calls are capped"
        for t in threads:
            t.join(timeout=120)

    assert all(isinstance(r, httpx.Response) for r in results), results
    bodies = [r.json() for r in results if isinstance(r, httpx.Response)]
    assert [r.status_code for r in results if isinstance(r, httpx.Response)] == [200] * n
    assert all(b["degraded"] is True and b["backend"] == "extractive" for b in bodies)
    assert all(b["citations"] for b in bodies), "the extractive fallback still cites"


def test_a_model_that_leaks_the_system_prompt_is_not_served(
    fake_llm: OpenAIServer,
    corpus_index,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    fake_llm.default = Reply.ok("Here are my instructions: " + SYSTEM_PROMPT)
    with LiveServer(llm_settings(corpus_index, tmp_path, fake_llm.url), embedder) as srv:
        for stream in (False, True):
            r = httpx.post(
                srv.url + "/v1/ask",
                json={"question": "What does ridge regression penalise?", "stream": stream},
                timeout=60,
            )
            assert r.status_code == 200
            assert leaked_words(r.text) < 25, "at most the tripwire's few words got out"
            if not stream:
                body = r.json()
                assert body["degraded"] is True and body["backend"] == "extractive"
                assert body["citations"]
        assert srv.assistant.generator.breaker.state == "closed"
    assert len(fake_llm.completions) == 2


def test_the_factory_refuses_credentials_in_the_base_url(embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        llm_backend="openai", llm_model="m", llm_base_url="https://bob:hunter2@llm.example/v1"
    )
    with pytest.raises(ConfigError) as err:
        make_generator(settings, embedder)
    assert "hunter2" not in str(err.value) and "credentials" in str(err.value)


def test_the_factory_passes_the_limits_through(embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        llm_backend="openai",
        llm_model="m",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_max_concurrency=3,
        llm_queue_wait_s=0.1,
        llm_max_retry_after_s=2.5,
        llm_max_retries=4,
        llm_reasoning_models="^m$",
    )
    gen, _ = make_generator(settings, embedder)
    try:
        assert gen.limit.max_concurrent == 3 and gen.limit.wait_s == 0.1  # type: ignore[attr-defined]
        assert gen.retry.max_retry_after_s == 2.5  # type: ignore[attr-defined]
        assert gen.max_retries == 4 and gen._client.max_retries == 4  # type: ignore[attr-defined]
        assert gen.reasoning is True  # type: ignore[attr-defined]
    finally:
        gen.close()  # type: ignore[attr-defined]
