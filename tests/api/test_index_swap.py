"""Queries while the index is rebuilt and swapped: none fails, each sees the old or new version."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CORPUS, LiveServer, build_corpus_index, make_settings
from tests.support.embedders import default_embedder

SEARCHES = ["git branches", "numpy broadcasting", "attention in transformers", "docker layers"]
QUESTIONS = ["What is a Python generator?", "How does PPO work?", "What is data leakage?"]


class Hammer:
    """Threads sending /v1/search and /v1/ask in a loop, recording every outcome."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.results: list[tuple[str, int, str | None, str]] = []  # (path, status, version, err)
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._loop, args=("/v1/search",), daemon=True),
            threading.Thread(target=self._loop, args=("/v1/ask",), daemon=True),
        ]

    def _loop(self, path: str) -> None:
        counter = itertools.count()
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                n = next(counter)
                body: dict[str, Any] = (
                    {"query": SEARCHES[n % len(SEARCHES)], "k": 3}
                    if path == "/v1/search"
                    # Every fourth question is new: misses run the whole pipeline.
                    else {
                        "question": QUESTIONS[n % len(QUESTIONS)]
                        + (f" ({n})" if n % 4 == 0 else "")
                    }
                )
                try:
                    r = c.post(path, json=body)
                    version = r.json().get("index_version") if r.status_code == 200 else None
                    outcome = (path, r.status_code, version, "" if r.status_code == 200 else r.text)
                except httpx.HTTPError as exc:
                    outcome = (path, 0, None, repr(exc))
                with self.lock:
                    self.results.append(outcome)

    def __enter__(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def count(self) -> int:
        with self.lock:
            return len(self.results)


def wait_for_version(url: str, version: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.get(url + "/v1/index").json()["index_version"] != version:
        assert time.monotonic() < deadline, f"{version} was not picked up"
        time.sleep(0.05)


def add_section(corpus: Path, title: str, text: str) -> None:
    path = corpus / "notes" / "phase-3-engineering-tooling.md"
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\n\n## {title}\n\n{text}\n")


@pytest.fixture(scope="module")
def build_embedder() -> Any:
    """The build job's own model, as in production where it is another process.

    (A tokenizer is not thread-safe: the build's chunker must not share the service's.)
    """
    return default_embedder()


@pytest.mark.slow
def test_no_failed_query_during_swaps(
    corpus_index: Path,
    embedder,
    build_embedder: Any,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(corpus_index, index)
    settings = make_settings(
        index, tmp_path, corpus_dir=corpus, reload_interval_s=0.2, admin_key="swap-admin"
    )
    with LiveServer(settings, embedder) as srv, Hammer(srv.url) as hammer:
        v0 = srv.assistant.snapshot.version
        time.sleep(0.5)

        # 1. publish a new version; the poller (every 0.2 s) swaps it in.
        add_section(
            corpus,
            "Tmux sessions",
            "Tmux keeps terminal sessions alive on a remote server after you disconnect.",
        )
        v1 = build_corpus_index(build_embedder, corpus, index).version
        wait_for_version(srv.url, v1)
        seen_before_v2 = hammer.count()
        found = httpx.post(srv.url + "/v1/search", json={"query": "tmux sessions", "k": 1})
        assert found.json()["results"][0]["section"].endswith("Tmux sessions")

        # 2. publish another one and swap it in through the admin endpoint.
        add_section(
            corpus,
            "SSH keys",
            "An SSH key pair lets you log in to servers without typing a password.",
        )
        v2 = build_corpus_index(build_embedder, corpus, index).version
        r = httpx.post(srv.url + "/v1/admin/reload", headers={"X-API-Key": "swap-admin"})
        assert r.status_code == 200 and r.json()["index_version"] == v2
        time.sleep(0.5)
        assert hammer.count() > seen_before_v2

    results = hammer.results
    failures = [r for r in results if r[1] != 200]
    assert failures == [], failures[:5]
    versions = {r[2] for r in results}
    assert versions <= {v0, v1, v2} and {v0, v2} <= versions, versions
    assert {r[0] for r in results} == {"/v1/search", "/v1/ask"}
    assert len(results) >= 20
