"""Commands that need no model start without importing torch, transformers or FAISS.

Each runs in a fresh interpreter (the console script's way in) and reports which heavy
modules ended up in ``sys.modules``; a stray top-level import anywhere on the path of
`--help`, `--version`, `index status` or `costs` fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "bm25s", "peft")
PROBE = """
import json, sys
from assistant.cli import main
try:
    main(sys.argv[1:], prog_name="assistant")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def run_cli(args: list[str], tmp_path: Path) -> tuple[dict[str, object], str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report, proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["index", "status"], ["costs"], ["costs", "--json"],
     ["search", "--help"], ["finetune", "train", "--help"]],
    ids=" ".join,
)  # fmt: skip
def test_light_commands_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    report, stdout = run_cli(args, tmp_path)
    assert report["heavy"] == [], f"`assistant {' '.join(args)}` imported {report['heavy']}"
    if args == ["--version"]:
        assert report["code"] in (0, None) and stdout.startswith("assistant, version ")
    if args == ["index", "status"]:
        assert report["code"] == 1  # no index published in tmp_path: the one-line error
    if args[0] == "costs":
        assert report["code"] in (0, None)


# --- the default (ONNX) backend: search, ask and build never import torch ---------------
TORCH = ("torch", "transformers", "sentence_transformers")


@pytest.fixture(scope="module")
def onnx_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus built with the default backend; its ONNX export made beforehand.

    The one-time export needs torch; it is made here, in the test process, so the
    commands below measure the steady state every later run of a machine is in.
    """
    from tests.indexing.minicorpus import build, write_corpus
    from tests.support.embedders import default_embedder

    embedder = default_embedder()
    assert embedder.backend in ("onnx", "onnx-int8"), embedder.backend
    embedder.embed_query("export once")
    root = tmp_path_factory.mktemp("onnx-startup")
    corpus = write_corpus(root / "corpus")
    build(embedder, corpus, root / "index")
    return root


def _without_torch(args: list[str], root: Path, tmp_path: Path) -> tuple[dict[str, object], str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "ASSISTANT_EMBEDDING_BACKEND"},
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(root / "index"),
        "ASSISTANT_CORPUS_DIR": str(root / "corpus"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_SERVER_URL": "",
        "ASSISTANT_REDIS_URL": "",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=TORCH), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), proc.stderr[-2000:]
    return report, proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [["search", "why does dropout zero activations", "--k", "3", "--json"],
     ["ask", "why does dropout zero activations?", "--json"],
     ["index", "build", "--json"]],
    ids=lambda a: a[0] if a[0] != "index" else "index build",
)  # fmt: skip
def test_default_backend_commands_never_import_torch(
    args: list[str], onnx_index: Path, tmp_path: Path
) -> None:
    if args[0] == "index":  # one edited file: the rebuild embeds, still without torch
        guide = onnx_index / "corpus" / "guide.md"
        guide.write_text(guide.read_text() + "\n\nA closing line about early stopping.\n")
    report, stdout = _without_torch(args, onnx_index, tmp_path)
    assert report["heavy"] == [], f"`assistant {' '.join(args[:2])}` imported {report['heavy']}"
    data = json.loads(stdout)
    if args[0] == "search":
        assert len(data["results"]) == 3 and data["results"][0]["section"].endswith("Dropout")
    elif args[0] == "ask":
        assert data["cache"] == "miss" and data["citations"], data
    else:
        assert data["published"] and data["embedded"] >= 1 and data["reused"] > 0


def test_local_search_returns_what_the_service_returns(onnx_index: Path, tmp_path: Path) -> None:
    """The CLI searches with the service's searcher alone: same hits, same scores, same order."""
    from assistant.factory import make_assistant
    from tests.conftest import make_settings

    query = "which exploration strategy does the agent use"
    _, stdout = _without_torch(["search", query, "--k", "5", "--json"], onnx_index, tmp_path)
    service = make_assistant(make_settings(onnx_index / "index", tmp_path))
    try:
        hits, version = service.search(query, 5)
    finally:
        service.close()
    got = json.loads(stdout)
    want = [h.to_json() for h in hits]
    assert got["index_version"] == version
    assert [r["chunk_id"] for r in got["results"]] == [r["chunk_id"] for r in want]
    for mine, theirs in zip(got["results"], want, strict=True):
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-5)
        assert {**mine, "score": 0} == {**theirs, "score": 0}


SERVE_PROBE = """
import json, sys
from fastapi.testclient import TestClient
from api.app import create_app
with TestClient(create_app()) as client:  # the lifespan loads the embedder and the index
    ask = client.post("/v1/ask", json={{"question": "why does dropout zero activations?"}})
    found = client.post("/v1/search", json={{"query": "dropout", "k": 2}})
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"ask": ask.status_code, "search": found.status_code, "heavy": heavy}}))
"""


@pytest.mark.integration
def test_the_service_on_the_default_backend_never_imports_torch(
    onnx_index: Path, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(onnx_index / "index"),
        "ASSISTANT_CORPUS_DIR": str(onnx_index / "corpus"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_RELOAD_INTERVAL_S": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_PROBE.format(heavy=TORCH)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"ask": 200, "search": 200, "heavy": []}


# --- a command run as its own process (the console script): GC tuned, loads frozen -------
OWN_PROCESS_PROBE = """
import atexit, gc, json, sys
def report():
    print(json.dumps({"frozen": gc.get_freeze_count(), "gen0": gc.get_threshold()[0],
                      "httpx": "httpx" in sys.modules}), file=sys.stderr)
atexit.register(report)
sys.argv = ["assistant", *sys.argv[1:]]
from assistant.cli import main
main()  # no arguments: the process's own command line, as the console script calls it
"""


@pytest.mark.integration
def test_a_command_in_its_own_process_collects_less_and_freezes_what_it_loaded(
    onnx_index: Path, tmp_path: Path
) -> None:
    """The console script's way in: a higher first GC threshold, everything loaded before the
    build frozen (no later collection walks it again), and a corpus of files alone never
    imports httpx (the URL fetcher's client is made on the first URL)."""
    from assistant.cli.common import GC_FIRST_THRESHOLD

    guide = onnx_index / "corpus" / "guide.md"
    guide.write_text(guide.read_text() + "\n\nA closing line about weight decay.\n")
    env = {
        **{k: v for k, v in os.environ.items() if k != "ASSISTANT_EMBEDDING_BACKEND"},
        "PYTHONPATH": str(REPO),
        "ASSISTANT_INDEX_DIR": str(onnx_index / "index"),
        "ASSISTANT_CORPUS_DIR": str(onnx_index / "corpus"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    proc = subprocess.run(
        [sys.executable, "-c", OWN_PROCESS_PROBE, "index", "build", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    built = json.loads(proc.stdout)
    assert built["published"] and built["embedded"] >= 1 and built["reused"] > 0
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["gen0"] == GC_FIRST_THRESHOLD
    assert report["frozen"] > 10_000, report  # modules, classes, the tokenizer: frozen
    assert report["httpx"] is False, "a build of files alone imported httpx"


def test_a_command_invoked_in_a_running_process_changes_no_gc_state(
    onnx_index: Path, tmp_path: Path
) -> None:
    """A test runner (or any caller passing arguments) goes on after the command: nothing is
    frozen there, where garbage frozen would never be freed, and its thresholds stay."""
    import gc

    from click.testing import CliRunner

    from assistant.cli import main

    before = (gc.get_freeze_count(), gc.get_threshold())
    env = {"ASSISTANT_INDEX_DIR": str(onnx_index / "index"), "ASSISTANT_SERVER_URL": "",
           "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}  # fmt: skip
    result = CliRunner().invoke(main, ["search", "dropout", "--k", "2", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["results"]) == 2  # it ran to the end (past settle)
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
