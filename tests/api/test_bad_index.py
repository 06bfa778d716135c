"""A bad index never crash-loops the service (issue 11 item 12): `assistant serve` with a
damaged `current` starts, on the newest valid version or not ready, and /ready says why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.errors import IndexCorruptError
from assistant.index import CHUNKS, CURRENT, VERSIONS, current_version, publish_version
from tests.conftest import CORPUS, REPO, LiveServer, free_port, make_settings
from tests.indexing.minicorpus import Template

ASSISTANT = str(Path(sys.executable).parent / "assistant")


@pytest.fixture(scope="module")
def template(embedder, tmp_path_factory: pytest.TempPathFactory) -> Template:  # type: ignore[no-untyped-def]
    return Template(embedder, tmp_path_factory.mktemp("bad-index-template"))


@pytest.fixture
def index_dir(template: Template, tmp_path: Path) -> Path:
    return template.copy(tmp_path / "own")[1]


def tamper(version_dir: Path) -> None:
    """Change what a chunk says, keeping the file valid JSON lines."""
    lines = (version_dir / CHUNKS).read_text().splitlines()
    first = json.loads(lines[0])
    first["text"] = "Tampered text that must never be served."
    lines[0] = json.dumps(first)
    (version_dir / CHUNKS).write_text("\n".join(lines) + "\n")


def publish_damaged_copy(index_dir: Path, name: str) -> None:
    """A newer published version whose chunk table fails its checksum."""
    good = current_version(index_dir)
    shutil.copytree(index_dir / VERSIONS / str(good), index_dir / VERSIONS / name)
    tamper(index_dir / VERSIONS / name)
    with (index_dir / "published").open("a") as f:
        f.write(name + "\n")
    publish_version(index_dir, name)


class Serve:
    """`assistant serve` as a real process, logging to a file."""

    def __init__(self, index_dir: Path, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "serve.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ASSISTANT_INDEX_DIR": str(index_dir),
            "ASSISTANT_CORPUS_DIR": str(CORPUS),
            "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            "ASSISTANT_RELOAD_INTERVAL_S": "0",
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [ASSISTANT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def ready(self, timeout_s: float = 300) -> httpx.Response:
        """/ready once the process answers /health; fails if the process exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"assistant serve exited with {self.proc.returncode}:\n{self.text()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return httpx.get(self.url + "/ready", timeout=10)
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"assistant serve did not answer:\n{self.text()}")
            time.sleep(0.2)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for s in started:
        s.stop()


@pytest.mark.slow
@pytest.mark.integration
def test_a_garbage_current_starts_on_the_newest_valid_version(
    index_dir: Path, template: Template, tmp_path: Path, serve: list[Serve]
) -> None:
    (index_dir / CURRENT).write_text("../../etc/passwd\n")
    serve.append(srv := Serve(index_dir, tmp_path))
    r = srv.ready()
    body = r.json()
    assert r.status_code == 200 and body["ready"] is True
    assert body["index_version"] == template.report.version
    assert any("invalid version" in p for p in body["index_problems"])
    assert "SERVING AN OLDER INDEX VERSION" in srv.text()
    hits = httpx.post(srv.url + "/v1/search", json={"query": "ridge regression", "k": 1})
    assert hits.status_code == 200 and hits.json()["index_version"] == template.report.version


@pytest.mark.slow
@pytest.mark.integration
def test_with_no_valid_version_it_starts_not_ready_and_says_why(
    index_dir: Path, tmp_path: Path, serve: list[Serve]
) -> None:
    tamper(index_dir / VERSIONS / str(current_version(index_dir)))
    serve.append(srv := Serve(index_dir, tmp_path))
    r = srv.ready()
    body = r.json()
    assert r.status_code == 503 and body["ready"] is False and body["index_version"] is None
    assert any("chunks.jsonl does not match its checksum" in p for p in body["index_problems"])
    assert "NO VALID INDEX: starting not ready" in srv.text()
    ask = httpx.post(srv.url + "/v1/ask", json={"question": "what is ridge regression?"})
    assert ask.status_code == 503


def test_ready_reports_a_newer_version_that_failed_to_load(
    embedder, index_dir: Path, template: Template, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(index_dir, tmp_path)
    with LiveServer(settings, embedder) as srv:
        assert httpx.get(srv.url + "/ready").json()["index_problems"] == []
        publish_damaged_copy(index_dir, "99990101T000000000000-bad000")
        with pytest.raises(IndexCorruptError):
            srv.assistant.reload()
        r = httpx.get(srv.url + "/ready")
        body = r.json()
        assert r.status_code == 200 and body["index_version"] == template.report.version
        assert len(body["index_problems"]) == 1
        assert "99990101T000000000000-bad000" in body["index_problems"][0]
        assert "does not match its checksum" in body["index_problems"][0]
        # Republishing the good version clears the problem.
        publish_version(index_dir, template.report.version)
        srv.assistant.reload()
        assert httpx.get(srv.url + "/ready").json()["index_problems"] == []


def test_ready_reports_an_open_circuit_breaker(embedder, index_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A dead OpenAI-compatible endpoint trips the breaker; /ready says so (still ready)."""
    settings = make_settings(
        index_dir, tmp_path, llm_backend="openai", llm_model="gpt-4o-mini",
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_max_retries=0,
        semantic_cache=False,
    )  # fmt: skip
    with LiveServer(settings, embedder) as srv:
        assert httpx.get(srv.url + "/ready").json()["degraded"] is False
        for i in range(8):  # more than the breaker's failure threshold
            r = httpx.post(srv.url + "/v1/ask", json={"question": f"what is ridge {i}?"})
            assert r.status_code == 200 and r.json()["degraded"] is True  # extractive fallback
        r = httpx.get(srv.url + "/ready")
        body = r.json()
        assert r.status_code == 200 and body["degraded"] is True
        assert body["dependencies"]["llm"].startswith("down (circuit breaker open")
