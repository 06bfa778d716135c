"""Two `assistant serve` processes sharing Redis and PostgreSQL, as replicas behind a balancer.

They share the answer cache, the rate limits and the ledger, and both pick up an index
published by `assistant index build` while a load thread runs against them.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.api.helpers import wait_for_rows
from tests.conftest import CORPUS, REPO, free_port

ASSISTANT = str(Path(sys.executable).parent / "assistant")
RATE_LIMIT = 20  # requests per minute per key, shared by both replicas through Redis
RATE_KEY = "replica-rate-key"
LOAD_KEYS = [f"replica-load-{i}" for i in range(200)]  # the load thread spreads over these
ADMIN_KEY = "replica-admin"


class Replica:
    """One `assistant serve` subprocess on its own port, logging to a file."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"{name}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [ASSISTANT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_ready(self, deadline: float) -> None:
        while True:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"replica {self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"replica {self.name} not ready in time:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def strip_url_sources(corpus: Path) -> None:
    """The build runs offline: drop the [[source]] entries that are URLs."""
    manifest = corpus / "sources.toml"
    blocks = re.split(r"(?m)^(?=\[\[source\]\])", manifest.read_text(encoding="utf-8"))
    kept = [b for b in blocks if not re.search(r"(?m)^url\s*=", b)]
    manifest.write_text("".join(kept), encoding="utf-8")


@pytest.fixture
def deployment(
    corpus_index: Path, clean_redis: str, postgres_url: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    strip_url_sources(corpus)
    shutil.copytree(corpus_index, index)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "ASSISTANT_INDEX_DIR": str(index),
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_EMBEDDING_MODEL": "all-MiniLM-L6-v2",  # the name the test index was built with
        "ASSISTANT_REDIS_URL": clean_redis,
        "ASSISTANT_DATABASE_URL": postgres_url,
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "ASSISTANT_RELOAD_INTERVAL_S": "0.5",
        "ASSISTANT_ADMIN_KEY": ADMIN_KEY,
        "ASSISTANT_API_KEYS": ",".join([RATE_KEY, *LOAD_KEYS]),
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }
    tag = f"replicas-{uuid.uuid4().hex[:10]}"
    replicas = [Replica("a", env, tmp_path), Replica("b", env, tmp_path)]
    built: list[str] = []
    try:
        deadline = time.monotonic() + 180
        for r in replicas:
            r.wait_ready(deadline)
        yield {"replicas": replicas, "env": env, "corpus": corpus, "index": index,
               "tag": tag, "built": built, "cwd": tmp_path}  # fmt: skip
    finally:
        for r in replicas:
            r.stop()
        engine = sa.create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(
                sa.text("delete from query_costs where request_id like :p"), {"p": tag + "-%"}
            )
            for version in built:
                conn.execute(sa.text("delete from build_costs where version = :v"), {"v": version})
        engine.dispose()


def key(k: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {k}"}


@pytest.mark.integration
@pytest.mark.slow
def test_two_replicas_share_cache_ledger_limits_and_index(
    deployment: dict[str, Any], postgres_url: str
) -> None:
    a, b = deployment["replicas"]
    tag = deployment["tag"]
    load_keys = itertools.cycle(LOAD_KEYS)
    sent: list[str] = []

    def ask(replica: Replica, question: str) -> dict[str, Any]:
        rid = f"{tag}-{len(sent)}"
        sent.append(rid)
        r = httpx.post(
            replica.url + "/v1/ask",
            json={"question": question},
            headers={**key(next(load_keys)), "X-Request-ID": rid},
            timeout=60,
        )
        assert r.status_code == 200, (replica.name, r.text)
        assert r.json()["request_id"] == rid
        return r.json()  # type: ignore[no-any-return]

    # 1. An answer cached by one replica is a hit on the other.
    first = ask(a, "How does gradient descent update the weights?")
    other = ask(b, "How does gradient descent update the weights?")
    assert (first["cache"], other["cache"]) == ("miss", "hit")
    assert other["answer"] == first["answer"]
    reverse = ask(b, "What is a Kubernetes Deployment?")
    assert (reverse["cache"], ask(a, "What is a Kubernetes Deployment?")["cache"]) == (
        "miss",
        "hit",
    )
    for i in range(6):
        ask((a, b)[i % 2], f"What does the {['map', 'filter', 'zip'][i % 3]} function do?")

    # 2. The ledger has exactly one row per request, whichever replica answered.
    rows = wait_for_rows(postgres_url, "request_id like :p", len(sent), p=tag + "-%")
    assert sorted(r["request_id"] for r in rows) == sorted(sent)

    # 3. Rate limits count across both replicas.
    results = [
        httpx.get((a, b)[i % 2].url + "/v1/models", headers=key(RATE_KEY)).status_code
        for i in range(RATE_LIMIT)
    ]
    assert results == [200] * RATE_LIMIT
    for replica in (a, b):
        limited = httpx.get(replica.url + "/v1/models", headers=key(RATE_KEY))
        assert limited.status_code == 429, replica.name
        assert int(limited.headers["retry-after"]) >= 1

    # 4. A new index version reaches both replicas, with no failed request meanwhile.
    old_version = first["index_version"]
    notes = deployment["corpus"] / "notes" / "phase-9-mlops.md"
    with notes.open("a", encoding="utf-8") as f:
        f.write("\n\n## Blue-green deployments\n\nA blue-green deployment keeps the old "
                "version running until the new one passes its checks, then switches traffic.\n")  # fmt: skip
    failures: list[str] = []
    versions: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=60) as c:
            for n in itertools.count():
                if stop.is_set():
                    return
                replica = (a, b)[n % 2]
                path, body = (
                    ("/v1/search", {"query": "canary deployments", "k": 3})
                    if n % 2
                    else ("/v1/ask", {"question": "What is a canary deployment?"})
                )
                try:
                    r = c.post(replica.url + path, json=body,
                               headers={**key(next(load_keys)), "X-Request-ID": f"{tag}-load-{n}"})  # fmt: skip
                    if r.status_code == 200:
                        versions.add(r.json()["index_version"])
                    else:
                        failures.append(f"{replica.name} {path} {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(f"{replica.name} {path} {exc!r}")

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        build = subprocess.run(
            [ASSISTANT, "index", "build", "--corpus", str(deployment["corpus"]),
             "--index-dir", str(deployment["index"]), "--json"],
            env=deployment["env"], cwd=deployment["cwd"], capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert build.returncode == 0, build.stderr[-3000:]
        new_version = re.search(r'"version": "([^"]+)"', build.stdout).group(1)  # type: ignore[union-attr]
        deployment["built"].append(new_version)
        assert new_version != old_version
        deadline = time.monotonic() + 30
        for replica in (a, b):
            while httpx.get(replica.url + "/ready").json()["index_version"] != new_version:
                assert time.monotonic() < deadline, f"{replica.name} did not load {new_version}"
                time.sleep(0.1)
        time.sleep(1.0)  # more load on the new version
    finally:
        stop.set()
        loader.join(timeout=60)
    assert failures == [], failures[:5]
    assert versions == {old_version, new_version}
    found = httpx.post(
        b.url + "/v1/search",
        json={"query": "blue-green deployment", "k": 1},
        headers=key(LOAD_KEYS[0]),
    ).json()["results"][0]
    assert found["section"].endswith("Blue-green deployments")
