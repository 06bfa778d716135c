"""Learners' ratings in the CLI: `assistant eval` summarises them, `finetune export-feedback`
turns up-voted answers into Q&A pairs `finetune train` reads.

The ratings are made through the real core (cost ledger rows, then `SqlFeedbackStore`) in
the ledger file the commands read.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.errors import NotFoundError
from assistant.feedback import AnsweredTurn
from assistant.feedback_store import SqlFeedbackStore
from assistant.ledger import QueryCost, SqlCostLedger
from assistant.ledger_db import create_ledger_engine
from assistant.passages import PassageIndex
from assistant.types import Chunk
from finetune.data import load_pairs
from tests.cli.helpers import Cli
from tests.conftest import CORPUS

RIDGE = Chunk(
    "c-ridge", "notes/ml.md", "ML", "Ridge", "Ridge adds an L2 penalty.", None, (5,), "h1", 0
)
LASSO = Chunk(
    "c-lasso", "notes/ml.md", "ML", "Lasso", "Lasso adds an L1 penalty.", None, (5,), "h2", 1
)
PASSAGES = PassageIndex([RIDGE, LASSO])


def turn(question: str, answer: str, ids: list[str]) -> AnsweredTurn:
    return AnsweredTurn(question, answer, ids, "v1")


@pytest.fixture
def rated(tmp_path: Path) -> Cli:
    """A ledger with six answers of key k1, five of them rated."""
    cli = Cli(tmp_path)
    url = cli.env["ASSISTANT_DATABASE_URL"]
    ledger = SqlCostLedger(url)
    for i in range(1, 7):
        ledger.record(QueryCost(datetime.now(UTC), f"r-{i}", "k1", "extractive", "x", "ask"))
    assert ledger.flush()
    ledger.close()
    store = SqlFeedbackStore(create_ledger_engine(url))
    ridge = turn("What is Ridge?", "Ridge adds an L2 penalty [1]; Lasso an L1 one [2].",
                 ["c-ridge", "c-lasso"])  # fmt: skip
    store.submit("k1", "r-1", "up", turn=ridge, passages=PASSAGES)
    dropout = turn("What is dropout?", "Dropout is not covered [1].", ["c-ridge"])
    store.submit("k1", "r-2", "down", "Missing the formula.", turn=dropout, passages=PASSAGES)
    store.submit("k1", "r-3", "up")  # rated after the service forgot the turn
    gone = turn("What is Elastic Net?", "Both penalties [1].", ["c-gone"])
    store.submit("k1", "r-4", "up", turn=gone, passages=PASSAGES)  # its passage left the index
    again = turn("what is ridge", "Ridge shrinks weights with an L2 penalty [1].", ["c-ridge"])
    store.submit("k1", "r-5", "up", turn=again, passages=PASSAGES)  # newest rating of the question
    with pytest.raises(NotFoundError):
        store.submit("k2", "r-6", "up")  # another caller's answer
    store.close()
    return cli


def test_eval_summarises_the_ratings(rated: Cli) -> None:
    data = rated.json("eval", "--feedback-only", "--json")
    f = data["feedback"]
    assert (f["ratings"], f["up"], f["down"], f["up_rate"]) == (5, 4, 1, 0.8)
    [down] = f["recent_down"]
    assert (down["request_id"], down["question"], down["comment"]) == (
        "r-2",
        "What is dropout?",
        "Missing the formula.",
    )
    text = rated("eval", "--feedback-only")
    assert text.exit_code == 0, text.output
    assert "feedback: 5 ratings, 4 up, 1 down (80.0% up)" in text.stdout
    assert "What is dropout? | comment: Missing the formula." in text.stdout


def test_export_writes_up_voted_answers_as_training_pairs(rated: Cli, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    report = rated.json("finetune", "export-feedback", "--out", str(out), "--json")
    assert report["out"] == str(out)
    assert (report["rated_up"], report["pairs"]) == (4, 1)
    assert (report["without_text"], report["without_passages"]) == (1, 1)
    assert (report["duplicates_dropped"], report["invalid"]) == (1, [])
    [pair] = load_pairs(out)  # what `finetune train --data` reads
    assert pair.question == "what is ridge" and pair.origin == "feedback"
    assert pair.answer == "Ridge shrinks weights with an L2 penalty [1]."
    assert [c.text for c in pair.context] == [RIDGE.text] and pair.citations == [1]
    text = rated("finetune", "export-feedback", "--out", str(out))
    assert text.exit_code == 0, text.output
    assert f"wrote 1 pairs to {out} from 4 up-voted answers" in text.stdout


def test_a_full_eval_ends_with_the_feedback(rated: Cli, corpus_index: Path, tmp_path: Path) -> None:
    shutil.copytree(corpus_index, rated.index_dir)
    rows = (CORPUS / "eval" / "questions-phase-4-6.jsonl").read_text().splitlines()[:2]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(rows))
    data = rated.json("eval", "--qa", str(qa), "--no-answers", "--json")
    assert data["retrieval"]["questions"] == 2
    assert data["feedback"]["ratings"] == 5 and data["feedback"]["down"] == 1
    json.dumps(data)  # one JSON document, feedback included
