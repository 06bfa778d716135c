"""An offline `assistant index build`: unfetched URLs are one summary line, not a line each.

The real console script in a subprocess (so its logging reaches stderr as a user sees it),
on a corpus whose URL sources point at a loopback port nobody listens on: the same
"cannot connect" a laptop without network gives.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import CONSOLE_SCRIPT, MODEL
from tests.conftest import REPO, free_port
from tests.indexing.minicorpus import write_corpus
from tests.indexing.test_fetch import start_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]

N_URLS = 4


def assistant(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        "ASSISTANT_CORPUS_DIR": str(tmp_path / "corpus"),
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_EMBEDDING_MODEL": MODEL,
        "ASSISTANT_URL_CACHE_DIR": str(tmp_path / "url-cache"),
        "ASSISTANT_URL_TIMEOUT_S": "2",
        "ASSISTANT_ALLOW_PRIVATE_URLS": "true",  # loopback stands in for the internet
    }
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """(tmp dir, the unreachable URLs, the build's stdout+stderr), built once."""
    tmp_path = tmp_path_factory.mktemp("offline")
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "broken.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 not markdown")
    port = free_port()  # bound and released: nothing listens there
    urls = [f"http://127.0.0.1:{port}/docs/page-{i}.html" for i in range(N_URLS)]
    with (corpus / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[source]]\npath = "broken.md"\n')
        for url in urls:
            fh.write(f'\n[[source]]\nurl = "{url}"\nphases = [3]\n')
    proc = assistant(tmp_path, "index", "build")
    assert proc.returncode == 0, proc.stderr
    return tmp_path, urls, proc.stdout + proc.stderr


def test_unfetched_urls_are_one_line_with_the_count_and_the_way_to_fetch_them(
    offline: tuple[Path, list[str], str],
) -> None:
    _, urls, output = offline
    [summary] = [line for line in output.splitlines() if "not fetched" in line]
    assert summary.startswith(
        f"  {N_URLS} URL source(s) not fetched (e.g. cannot connect to 127.0.0.1"
    )
    assert summary.endswith(
        "run `assistant index build --refresh-urls` with network access to fetch them (then "
        "cached for offline builds); `assistant index status` lists them"
    )
    for url in urls:
        assert url not in output  # neither a warning nor a summary line per URL
    # Other skipped sources stay listed one per line, once.
    assert output.count("broken.md") == 1
    assert "  skipped 1:\n    - broken.md: binary file" in output
    assert output.splitlines()[0].startswith("published index ")
    assert "DEBUG" not in output  # bm25s sets its logger to DEBUG on import


def test_status_lists_every_skipped_source_with_its_reason(
    offline: tuple[Path, list[str], str],
) -> None:
    tmp_path, urls, _ = offline
    human = assistant(tmp_path, "index", "status")
    assert human.returncode == 0, human.stderr
    assert f"skipped: {N_URLS + 1}" in human.stdout.splitlines()
    for url in urls:
        [line] = [ln for ln in human.stdout.splitlines() if url in ln]
        assert line.startswith(f"  - {url}: fetch failed: cannot connect to 127.0.0.1")
    assert "  - broken.md: binary file" in human.stdout.splitlines()
    as_json = json.loads(assistant(tmp_path, "index", "status", "--json").stdout)
    assert {s["source"] for s in as_json["skipped"]} == {*urls, "broken.md"}


def test_a_rebuild_asks_the_network_only_when_a_copy_is_stale_or_when_told(
    tmp_path: Path,
) -> None:
    """A failed URL is not waited on again for ASSISTANT_URL_RETRY_S, a fetched one is used
    from the cache for ASSISTANT_URL_REFRESH_S; `--refresh-urls` asks for every one now."""
    corpus = write_corpus(tmp_path / "corpus")
    port = free_port()  # nothing listens there for the first build
    urls = [f"http://127.0.0.1:{port}/page?n={i}" for i in range(2)]
    with (corpus / "sources.toml").open("a", encoding="utf-8") as fh:
        for url in urls:
            fh.write(f'\n[[source]]\nurl = "{url}"\nphases = [3]\n')

    def build(*flags: str) -> dict[str, object]:
        proc = assistant(tmp_path, "index", "build", "--json", *flags)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def url_skips(report: dict[str, object]) -> list[str]:
        return [s["reason"] for s in report["skipped"] if s["source"] in urls]  # type: ignore[attr-defined]

    offline = build()
    assert [r.startswith("fetch failed: cannot connect") for r in url_skips(offline)] == [True] * 2
    running = start_server(port=port)
    try:
        remembered = build()
        assert running.state.hits["/page"] == 0  # the failures were remembered, not retried
        assert all("or now with --refresh-urls" in r for r in url_skips(remembered))
        refreshed = build("--refresh-urls")
        assert running.state.hits["/page"] == 2 and url_skips(refreshed) == []
        assert refreshed["chunks"] > offline["chunks"]  # type: ignore[operator]
        cached = build()
        assert running.state.hits["/page"] == 2  # fresh copies: the network was not asked
        assert url_skips(cached) == [] and cached["chunks"] == refreshed["chunks"]
    finally:
        running.stop()
