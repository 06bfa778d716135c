"""`assistant quiz` and `assistant progress` on the real corpus: answered at the prompt."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import main
from assistant.settings import get_settings
from tests.conftest import CORPUS


def _env(corpus_index: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "ASSISTANT_INDEX_DIR": str(corpus_index),
        "ASSISTANT_CORPUS_DIR": str(CORPUS),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'coach.db'}",
        "ASSISTANT_EMBEDDING_MODEL": "all-MiniLM-L6-v2",
        "ASSISTANT_REDIS_URL": "",
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }


def _run(env: dict[str, str], *args: str, stdin: str = "") -> str:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def test_quiz_then_progress(corpus_index: Path, tmp_path: Path) -> None:
    env = _env(corpus_index, tmp_path)
    out = _run(env, "quiz", "--phase", "5", "-n", "2", "--learner", "ada", stdin="1\nno idea\n")
    assert out.count("expected:") == 2 and "of 2 right" in out
    assert "notes/phase-5-core-ml.md" in out  # each result names its passage
    data = json.loads(_run(env, "progress", "--learner", "ada", "--json"))
    phase5 = next(p for p in data["phases"] if p["phase"] == 5)
    assert phase5["cards"] == 2 and data["next"]["phase"] == 1
    table = _run(env, "progress", "--learner", "ada")
    assert "5. Core Machine Learning Algorithms" in table and table.rstrip().splitlines()[
        -1
    ].startswith("next: ")
    # Another terminal learner starts from nothing.
    other = json.loads(_run(env, "progress", "--learner", "bob", "--json"))
    assert sum(p["cards"] for p in other["phases"]) == 0
