"""`assistant eval`: ranx metrics in the report, a progress bar only when asked or on a terminal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import Cli, one_line_error
from tests.indexing.minicorpus import write_corpus

ROWS = [
    {"id": "d1", "question": "What does dropout do during training?", "phase": 6,
     "source": "guide.md", "section": "Dropout"},
    {"id": "r1", "question": "Which penalty does ridge regression add?", "phase": 5,
     "source": "guide.md", "section": "Ridge Regression"},
    {"id": "x", "question": "How do I bake bread?", "phase": 5,
     "source": "guide.md", "section": "No Such Section"},
]  # fmt: skip


def test_eval_reports_ranx_metrics_and_shows_progress_on_request(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    write_corpus(tmp_path / "corpus")
    built = cli("index", "build", "--json")
    assert built.exit_code == 0, built.stderr
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(r) for r in ROWS))

    quiet = cli("eval", "--qa", str(qa), "--no-answers", "--json")
    assert quiet.exit_code == 0, quiet.stderr
    assert "eval:" not in quiet.stderr  # not a terminal, not asked: no bar
    overall = json.loads(quiet.stdout)["retrieval"]["overall"]
    assert set(overall) == {"recall@5", "hit_rate@5", "mrr", "ndcg@10"}
    # Two of three questions have their one-chunk section in the top 5; the third none.
    assert overall["hit_rate@5"] == overall["recall@5"] == 2 / 3
    assert json.loads(quiet.stdout)["retrieval"]["misses"] == ["x"]

    shown = cli("eval", "--qa", str(qa), "--no-answers", "--json", "--progress")
    assert shown.exit_code == 0, shown.stderr
    assert "eval: 100%" in shown.stderr and "3/3" in shown.stderr
    assert json.loads(shown.stdout) == json.loads(quiet.stdout)  # the bar is on stderr only

    table = cli("eval", "--qa", str(qa), "--no-answers", "--k", "3")
    assert table.exit_code == 0 and "hit_rate@3 0.667" in table.stdout, table.stdout


def test_eval_with_a_bad_question_set_is_a_one_line_error(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "question": "q"}\n')
    line = one_line_error(cli("eval", "--qa", str(bad), "--no-answers"), 2)
    assert line.startswith(f"error: {bad}:1: not a valid question")
