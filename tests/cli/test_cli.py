"""`assistant index build|status`, `search`: JSON output, one-line errors, the lock, the eval floor."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from assistant.index import current_version, list_versions
from assistant.settings import get_settings
from indexing.build import LOCK_FILE
from tests.cli.helpers import CONSOLE_SCRIPT, MODEL, MODEL_NAME, Cli, error_line, one_line_error
from tests.conftest import CORPUS, REPO
from tests.indexing.minicorpus import write_corpus


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    write_corpus(tmp_path / "corpus")
    yield Cli(tmp_path)
    get_settings.cache_clear()


# --- build, status, search ------------------------------------------------------------


@pytest.mark.slow
def test_build_status_and_search_as_json(cli: Cli, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    report = cli.json(
        "index", "build", "--corpus", str(corpus), "--index-dir", str(cli.index_dir), "--json"
    )
    assert report["published"] is True
    assert (report["files"], report["urls"], report["skipped"]) == (3, 0, [])
    assert report["chunks"] == report["embedded"] > 5 and report["reused"] == 0
    assert report["embed_tokens"] > 0
    assert report["full_rebuild_reason"] == "no previous index" and report["eval"] is None
    assert set(report["seconds"]) == {"load", "chunk", "embed", "write", "total"}
    version = report["version"]
    assert current_version(cli.index_dir) == version
    with sqlite3.connect(cli.db) as db:  # the build is a row in the cost ledger
        (table,) = [
            name
            for (name,) in db.execute("select name from sqlite_master where type = 'table'")
            if name.endswith("build_costs")
        ]
        rows = db.execute(f"select version, chunks_embedded, model from {table}").fetchall()
    assert rows == [(version, report["chunks"], MODEL_NAME)]

    status = cli.json("index", "status", "--json")
    assert status["version"] == version and status["versions"] == [version]
    assert status["model"]["name"] == MODEL_NAME and status["model"]["dimension"] == 384
    assert status["counts"]["chunks"] == report["chunks"] and status["sources"] == 3
    assert status["index_type"] == "flat" and status["chunking"]["chunk_size"] == 200
    assert status["embed_tokens"] == report["embed_tokens"]

    found = cli.json("search", "why does dropout zero activations", "--k", "3", "--json")
    assert found["index_version"] == version
    assert len(found["results"]) == 3
    top = found["results"][0]
    assert set(top) == {"chunk_id", "text", "source", "title", "section", "url", "phases", "score"}
    assert top["section"].endswith("Dropout") and top["url"] == "guide.md#dropout"
    only7 = cli.json("search", "exploration", "--phase", "7", "--json")
    assert only7["results"] and all(7 in r["phases"] for r in only7["results"])
    notes = cli.json("search", "git branch", "--source", "notes/tools.txt", "--json")
    assert [r["source"] for r in notes["results"]] == ["notes/tools.txt"]

    same = cli("index", "build")  # human output; nothing changed: nothing written
    assert same.exit_code == 0, same.stderr
    assert same.stdout.startswith(f"index unchanged: {version} keeps serving ")
    assert current_version(cli.index_dir) == version
    with sqlite3.connect(cli.db) as db:  # no build, no build row
        assert db.execute(f"select count(*) from {table}").fetchone() == (1,)
    guide = corpus / "guide.md"
    guide.write_text(guide.read_text() + "\n\nA closing line about label smoothing.\n")
    again = cli("index", "build")  # human output, incremental
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith("published index ")
    assert f"({report['chunks']} reused)" not in again.stdout
    assert f"1 embedded, {report['chunks'] - 1} reused" in again.stdout


def test_status_and_search_before_any_build(cli: Cli) -> None:
    line = one_line_error(cli("index", "status", "--json"), 1)
    assert f"no index has been published in {cli.index_dir}" in line
    assert "run `assistant index build`" in line


# --- errors: one line, no traceback, non-zero exit --------------------------------------


@pytest.mark.slow
@pytest.mark.integration
def test_missing_corpus_is_a_one_line_error_from_the_real_command(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-corpus"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "ASSISTANT_EMBEDDING_MODEL": MODEL,
        "PYTHONPATH": str(REPO),  # this tree's code, also from a worktree beside the venv
    }
    proc = subprocess.run(
        [str(CONSOLE_SCRIPT), "index", "build", "--corpus", str(missing)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert error_line(proc.stderr) == f"error: corpus folder {missing} does not exist"
    assert proc.stdout == ""
    assert not (tmp_path / "index" / "current").exists()


def test_invalid_sources_toml_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "corpus" / "sources.toml").write_text("[[source]]\nphases = [5]\n")
    line = one_line_error(cli("index", "build"), 2)
    assert "sources.toml: source #1 needs exactly one of 'path' or 'url'" in line


def test_bad_search_arguments_name_the_value(cli: Cli, tmp_path: Path) -> None:
    line = one_line_error(cli("search", "ridge", "--k", "0"), 2)
    assert "k must be between 1 and 50, got 0" in line


class LockHolder(threading.Thread):
    """Holds the build lock from another thread (as another process would) until ``release``."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(daemon=True)
        self.lock = FileLock(str(index_dir / LOCK_FILE))
        self.held = threading.Event()
        self.go = threading.Event()
        self.released = threading.Event()

    def run(self) -> None:
        with self.lock:
            self.held.set()
            self.go.wait(timeout=120)
        self.released.set()

    def __enter__(self) -> LockHolder:
        self.start()
        assert self.held.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.go.set()
        self.join(timeout=10)


@pytest.mark.slow
def test_a_build_while_another_holds_the_lock(cli: Cli) -> None:
    cli.index_dir.mkdir(parents=True)
    with LockHolder(cli.index_dir):
        line = one_line_error(cli("index", "build"), 1)
    assert "another `index build` is running" in line
    assert str(cli.index_dir / LOCK_FILE) in line and "pass --wait" in line
    assert current_version(cli.index_dir) is None

    with LockHolder(cli.index_dir) as holder:
        threading.Timer(1.5, holder.go.set).start()
        result = cli("index", "build", "--wait", "--json")
        assert holder.released.is_set()  # it finished only after the lock was given back
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert json.loads(result.stdout)["published"] is True


# --- the eval floor -------------------------------------------------------------------


def corpus_without_urls(dest: Path) -> Path:
    """The real corpus's files and sources.toml minus URL entries (no network in tests)."""
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("sources.toml"))
    entries = tomllib.loads((CORPUS / "sources.toml").read_text())["source"]
    lines = []
    for e in entries:
        if "path" in e:
            lines.append("[[source]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in e.items()]
            lines.append("")
    (dest / "sources.toml").write_text("\n".join(lines))
    return dest


@pytest.mark.slow
def test_eval_floor_above_the_score_refuses_to_publish(corpus_index: Path, tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    corpus_without_urls(tmp_path / "corpus")
    shutil.copytree(corpus_index, cli.index_dir)  # built from the same files: all reused
    before = current_version(cli.index_dir)
    # 20 questions of the project's set and one nothing can answer: hit_rate@5 <= 20/21.
    rows = (CORPUS / "eval" / "questions-phase-4-6.jsonl").read_text().splitlines()[:20]
    impossible = {"id": "x", "question": "How do I bake bread?", "phase": 5,
                  "source": "notes/phase-5-core-ml.md", "section": "No Such Section"}  # fmt: skip
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join([*rows, json.dumps(impossible)]))
    result = cli("index", "build", "--eval", "--qa", str(qa), "--min-hit-rate", "0.99")
    line = one_line_error(result, 1)
    assert "scored hit_rate@5 = 0.9" in line and "below the floor 0.990" in line
    assert "not published" in line and f"{before} keeps serving" in line
    assert current_version(cli.index_dir) == before
    assert list_versions(cli.index_dir) == [before]


def test_eval_floor_met_publishes_with_the_scores(cli: Cli, tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    rows = [
        {"id": "d1", "question": "What does dropout do during training?", "phase": 6,
         "source": "guide.md", "section": "Dropout"},
        {"id": "r1", "question": "Which penalty does ridge regression add?", "phase": 5,
         "source": "guide.md", "section": "Ridge Regression"},
    ]  # fmt: skip
    qa.write_text("\n".join(json.dumps(r) for r in rows))
    report = cli.json("index", "build", "--eval", "--qa", str(qa), "--min-recall", "0.99", "--json")
    assert report["published"] is True
    assert report["eval"]["hit_rate@5"] == 1.0 and report["eval"]["questions"] == 2
    # Each expected section is one chunk of the mini corpus: all of them found in the top 5.
    assert report["eval"]["recall@5"] == 1.0
    assert current_version(cli.index_dir) == report["version"]
