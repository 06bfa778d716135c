"""Prometheus metrics: the domain counters against the ledger, naming conventions, and
one view of every worker with `assistant serve --workers 2` (a real subprocess)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CORPUS, REPO, LiveServer, free_port, make_settings
from tests.fakes.openai_server import OpenAIServer, Reply

ASSISTANT = str(Path(sys.executable).parent / "assistant")
QUESTIONS = [
    "What is overfitting?",
    "How does dropout work?",
    "What is a pandas DataFrame?",
    "How do I undo a git commit?",
]
BASE_UNITS = ("_seconds", "_bytes")
NOT_BASE = ("_ms", "_milliseconds", "_minutes", "_hours", "_kb", "_mb", "_percent")


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(text: str, sample: str, **labels: str) -> float:
    """Sum of the samples named ``sample`` whose labels include ``labels``."""
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def assert_named_by_convention(text: str) -> list[str]:
    """Every assistant_* family: counters end in _total, histograms in a base unit, help set."""
    ours = {n: f for n, f in families(text).items() if n.startswith("assistant_")}
    assert ours, "no assistant_* metric exported"
    for name, fam in ours.items():
        assert fam.documentation.strip(), f"{name} has no help text"
        assert not any(part in name for part in NOT_BASE), f"{name}: use base units"
        if fam.type == "counter":
            names = {s.name for s in fam.samples}
            assert names <= {name + "_total", name + "_created"}, (name, names)
        elif fam.type == "histogram":
            assert name.endswith(BASE_UNITS), f"histogram {name} must end in a base unit"
        elif fam.type == "gauge":
            assert not name.endswith(("_total", "_count", "_sum", "_bucket")), name
        else:
            raise AssertionError(f"{name}: unexpected type {fam.type}")
    return sorted(ours)


# ----------------------------------------------------------------- one process, in a thread
@pytest.fixture(scope="module")
def llm() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def served(corpus_index, embedder, tmp_path_factory, llm) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        corpus_index, tmp_path_factory.mktemp("metrics"), llm_backend="openai",
        llm_model="gpt-4o-mini", llm_base_url=llm.url, llm_api_key="sk-test",
        llm_max_retries=0, semantic_cache=False,
    )  # fmt: skip
    with LiveServer(settings, embedder) as srv:
        yield srv


def ledger_sums(srv: LiveServer, request_ids: list[str]) -> dict[str, float]:
    srv.assistant.ledger.flush()
    q = srv.assistant.ledger.queries
    with srv.assistant.ledger.engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.sum(q.c.prompt_tokens), sa.func.sum(q.c.completion_tokens),
                sa.func.sum(q.c.embed_tokens), sa.func.sum(q.c.cost_usd),
                sa.func.sum(q.c.saved_usd),
            ).where(q.c.request_id.in_(request_ids))
        ).one()  # fmt: skip
    return dict(
        zip(("prompt", "completion", "embedding", "cost", "saved"), map(float, row), strict=True)
    )


def test_domain_counters_match_the_ledger(served: LiveServer, llm: OpenAIServer) -> None:
    before = httpx.get(served.url + "/metrics").text
    reply = Reply.ok("Overfitting memorises noise [1].", usage=(120, 9), model="gpt-4o-mini")
    llm.push(*[reply] * 3)  # a priced model: the misses cost something
    ids = []
    for i, q in enumerate([*QUESTIONS[:3], QUESTIONS[0], QUESTIONS[0]]):  # 3 misses, 2 hits
        rid = f"metrics-{i}"
        r = httpx.post(served.url + "/v1/ask", json={"question": q},
                       headers={"X-Request-ID": rid}, timeout=60)  # fmt: skip
        assert r.status_code == 200 and not r.json()["degraded"], r.text
        ids.append(rid)
    after = httpx.get(served.url + "/metrics").text

    def delta(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    sums = ledger_sums(served, ids)
    assert delta("assistant_answers_total", cache="miss") == 3
    assert delta("assistant_answers_total", cache="hit") == 2
    assert delta("assistant_tokens_total", kind="prompt") == sums["prompt"] == 360
    assert delta("assistant_tokens_total", kind="completion") == sums["completion"] == 27
    assert delta("assistant_tokens_total", kind="embedding") == sums["embedding"] > 0
    assert delta("assistant_cost_usd_total") == pytest.approx(sums["cost"]) and sums["cost"] > 0
    assert delta("assistant_cache_saved_usd_total") == pytest.approx(sums["saved"])
    assert sums["saved"] > 0  # the two hits saved what the first answer cost
    assert delta("assistant_answer_duration_seconds_count", cache="hit") == 2
    assert delta("assistant_http_request_duration_seconds_count", route="/v1/ask") == 5
    assert value(after, "assistant_upstream_breaker_state") == 0
    assert_named_by_convention(after)


def test_upstream_failures_and_the_breaker_state(served: LiveServer, llm: OpenAIServer) -> None:
    before = httpx.get(served.url + "/metrics").text
    breaker = served.assistant.generator.breaker
    llm.default = Reply.error(500)
    try:
        for i in range(breaker.failure_threshold):
            r = httpx.post(served.url + "/v1/ask", json={"question": f"What is bagging, take {i}?"},
                           timeout=60)  # fmt: skip
            assert r.status_code == 200 and r.json()["degraded"], r.text
        after = httpx.get(served.url + "/metrics").text
    finally:
        llm.default = Reply.ok()
        breaker.record_success()
    # Each answer's failed call is counted once: as an error, or as a timeout when the
    # client's retries of the 500 outlast the call's deadline on a busy machine.
    failures = value(after, "assistant_upstream_failures_total", backend="openai")
    assert failures - value(before, "assistant_upstream_failures_total", backend="openai") == (
        breaker.failure_threshold
    )
    assert value(after, "assistant_upstream_failures_total", backend="openai", reason="error") > 0
    assert value(after, "assistant_upstream_breaker_state") == 2  # open
    assert (
        value(after, "assistant_degraded_answers_total")
        - value(before, "assistant_degraded_answers_total")
        == breaker.failure_threshold
    )


# ----------------------------------------------------------------- two worker processes
def per_worker(metrics_dir: Path, tmp: Path, kind: str, sample: str) -> dict[int, float]:
    """pid -> the sum of ``sample`` in that worker's own ``kind`` file (e.g. counter), alone."""
    out = {}
    for f in metrics_dir.glob(f"{kind}_*.db"):
        pid = int(f.stem.rsplit("_", 1)[1])
        one = tmp / f"only-{kind}-{pid}"
        shutil.rmtree(one, ignore_errors=True)
        one.mkdir()
        shutil.copy(f, one / f.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(one))
        out[pid] = sum(s.value for m in registry.collect() for s in m.samples if s.name == sample)
    return out


def worker_answers(metrics_dir: Path, tmp: Path) -> dict[int, float]:
    return per_worker(metrics_dir, tmp, "counter", "assistant_answers_total")


@pytest.mark.slow
def test_two_workers_are_one_view(corpus_index: Path, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ASSISTANT_INDEX_DIR": str(corpus_index),
        "ASSISTANT_CORPUS_DIR": str(CORPUS),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_LEDGER_SPILL_DIR": str(tmp_path / "spill"),
        "ASSISTANT_EMBEDDING_MODEL": "all-MiniLM-L6-v2",
        "ASSISTANT_RELOAD_INTERVAL_S": "0",
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
        "ASSISTANT_REDIS_URL": "",
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }
    # A previous run's counts in the folder: serve must start from zero.
    stale = subprocess.run(
        [sys.executable, "-c", "from assistant.metrics import ANSWERS; ANSWERS.labels('miss').inc(1000)"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert stale.returncode == 0 and list(metrics_dir.glob("counter_*.db")), stale.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ASSISTANT, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _serve_and_scrape(proc, url, metrics_dir, tmp_path, env)
    except BaseException as exc:
        raise AssertionError(
            f"{exc!r}\nserve log:\n{log.read_text(errors='replace')[-4000:]}"
        ) from exc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # Workers that stopped took their live gauges with them; the counters stay.
    assert list(metrics_dir.glob("gauge_live*.db")) == [], os.listdir(metrics_dir)
    assert list(metrics_dir.glob("counter_*.db"))


def _serve_and_scrape(
    proc: subprocess.Popen[bytes], url: str, metrics_dir: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    # Both workers are up once each has set its own assistant_ready to 1 (lifespan done).
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, f"serve exited with {proc.returncode}"
        ready = per_worker(metrics_dir, tmp_path, "gauge_livemin", "assistant_ready")
        if sum(1 for v in ready.values() if v == 1) >= 2:
            break
        assert time.monotonic() < deadline, f"workers not ready: {ready}"
        time.sleep(0.5)

    def ask(i: int) -> int:
        q = QUESTIONS[i % len(QUESTIONS)]  # fresh connection each: either worker accepts
        return httpx.post(url + "/v1/ask", json={"question": q}, timeout=120).status_code

    sent = 0
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(5):  # until both workers have answered some (the kernel picks)
            statuses = list(pool.map(ask, range(sent, sent + 12)))
            assert statuses == [200] * 12
            sent += 12
            if sum(1 for n in worker_answers(metrics_dir, tmp_path).values() if n) >= 2:
                break
    answers = worker_answers(metrics_dir, tmp_path)
    assert sum(1 for n in answers.values() if n) >= 2, answers
    assert sum(answers.values()) == sent  # and nothing of the stale run

    # Every scrape, whichever worker answers it, sees the answers of both.
    seen = []
    for _ in range(6):
        text = httpx.get(url + "/metrics", timeout=10).text  # a new connection each time
        seen.append(value(text, "assistant_answers_total"))
        assert value(text, "assistant_ready") == 1
        assert value(text, "assistant_answer_duration_seconds_count") == sent
    assert seen == [sent] * 6
    # The HTTP counter is bumped after the response is sent: wait for the last ones.
    deadline = time.monotonic() + 10
    while value(text, "assistant_http_requests_total", route="/v1/ask") < sent:
        assert time.monotonic() < deadline
        text = httpx.get(url + "/metrics", timeout=10).text
    assert value(text, "assistant_http_requests_total", route="/v1/ask", status="200") == sent
    engine = sa.create_engine(env["ASSISTANT_DATABASE_URL"])
    with engine.connect() as conn:
        deadline = time.monotonic() + 10
        while (n := conn.execute(sa.text("select count(*) from query_costs")).scalar()) < sent:
            assert time.monotonic() < deadline, n
            time.sleep(0.2)
        embed = conn.execute(sa.text("select sum(embed_tokens) from query_costs")).scalar()
    engine.dispose()
    assert value(text, "assistant_tokens_total", kind="embedding") == embed
    names = assert_named_by_convention(text)
    assert {"assistant_answers", "assistant_tokens", "assistant_cost_usd",
            "assistant_ledger_queue_depth", "assistant_upstream_breaker_state",
            "assistant_http_request_duration_seconds"} <= set(names)  # fmt: skip
