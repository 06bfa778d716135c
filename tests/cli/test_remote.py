"""`assistant search|ask` through a running server (ASSISTANT_SERVER_URL), and the fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import Cli, one_line_error
from tests.conftest import LiveServer, free_port, make_settings

pytestmark = pytest.mark.integration

KEY = "cli-test-key"


@pytest.fixture(scope="module")
def server(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The real service on loopback, with an API key, over the session's corpus index."""
    tmp = tmp_path_factory.mktemp("cli-server")
    with LiveServer(make_settings(corpus_index, tmp, api_keys=[KEY]), embedder) as srv:
        yield srv


def remote_cli(tmp_path: Path, server_url: str) -> Cli:
    """A CLI whose own index folder is empty: only the server can answer."""
    cli = Cli(tmp_path)
    cli.env |= {"ASSISTANT_SERVER_URL": server_url, "ASSISTANT_API_KEYS": KEY}
    return cli


def test_search_and_ask_go_through_the_server(server: LiveServer, tmp_path: Path) -> None:
    cli = remote_cli(tmp_path, server.url)
    found = cli.json("search", "ridge regression penalty", "--k", "3", "--phase", "5", "--json")
    version = server.assistant.snapshot.version
    assert found["index_version"] == version and len(found["results"]) == 3
    assert all(5 in r["phases"] for r in found["results"])
    hits, _ = server.assistant.search("ridge regression penalty", 3, phases=[5])
    assert found["results"] == [h.to_json() for h in hits]  # what the service itself finds

    human = cli("search", "ridge regression penalty", "--k", "1")
    assert human.exit_code == 0, human.stderr
    assert human.stdout.startswith("[1] ") and "notes/phase-5-core-ml.md" in human.stdout

    answer = cli.json("ask", "why use dropout?", "--json")
    assert answer["index_version"] == version and answer["citations"]
    assert answer["request_id"]  # set by the server's middleware: the answer came over HTTP
    assert not (tmp_path / "ledger.db").exists()  # the server's ledger, not one of the CLI's


def test_the_servers_errors_are_the_commands_errors(server: LiveServer, tmp_path: Path) -> None:
    cli = remote_cli(tmp_path, server.url)
    line = one_line_error(cli("search", "ridge", "--k", "0"), 2)
    assert "k" in line and "greater than or equal to 1" in line
    cli.env["ASSISTANT_API_KEYS"] = "not-the-key"
    line = one_line_error(cli("search", "ridge"), 1)
    assert "unknown API key" in line and server.url in line


@pytest.mark.slow
def test_no_server_listening_falls_back_to_the_local_index(
    corpus_index: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cli = Cli(tmp_path)
    cli.env |= {
        "ASSISTANT_SERVER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "ASSISTANT_INDEX_DIR": str(corpus_index),
    }
    result = cli("search", "ridge regression penalty", "--k", "2", "--json")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert len(json.loads(result.stdout)["results"]) == 2
    warned = [r.getMessage() for r in caplog.records if r.name == "assistant.cli.remote"]
    assert len(warned) == 1 and "did not answer" in warned[0] and "working locally" in warned[0]
