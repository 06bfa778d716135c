"""The topics recipe: pairs per topic, roadmap transitions, refusals, and the held-out split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.prompts import build_messages
from assistant.types import Chunk
from finetune.data import cited_numbers, make_chunk
from finetune.dataset import build_dataset
from finetune.manifest import heldout_path, manifest_path, write_dataset
from finetune.split import drop_heldout_passages, is_heldout, mentions
from finetune.topic_pairs import NOT_COVERED, sentences, topic_drafts
from tests.conftest import CORPUS

# The committed list the answer evaluation is built on (rule: sha256(lower(topic)) % 5 == 0).
HELDOUT = [
    "Big-O notation", "Hash maps", "Trees", "Git", "Linux commands", "Data cleaning",
    "MSE and RMSE", "Precision, recall and F1", "Gradient boosting (XGBoost)", "CNNs", "NLP",
    "Prompt engineering", "Docker", "SageMaker", "Reproducibility",
    "Model serving (Triton, FastAPI)", "Monitoring and logging",
]  # fmt: skip
NOISE = make_chunk("Docker packages an app.", source="notes/phase-9-mlops.md", title="Phase 9", section="Docker")  # fmt: skip


def noisy_retriever(question: str, k: int) -> Sequence[Chunk]:
    """Always returns a held-out topic's passage among others: it must never reach training."""
    other = make_chunk(f"Unrelated text about {question}.", source="notes/x.md", section="Other")
    return [NOISE, other][:k]


@pytest.fixture(scope="module")
def dataset():  # type: ignore[no-untyped-def]
    return build_dataset(CORPUS, retrieve=noisy_retriever, k=3)


def test_the_split_rule_gives_the_committed_topics(dataset) -> None:  # type: ignore[no-untyped-def]
    _, _, report = dataset
    assert report.heldout_topics == HELDOUT
    assert all(is_heldout(t) for t in HELDOUT) and not is_heldout("Ridge")
    assert report.train_topics > 60


def test_no_heldout_topic_leaks_into_training(dataset) -> None:  # type: ignore[no-untyped-def]
    train, heldout, report = dataset
    for pair in train:
        assert mentions(pair.question, HELDOUT) is None, pair.question
        assert all(c.section not in HELDOUT for c in pair.context), pair.question
    assert report.heldout_passages_dropped > 0
    assert heldout and all(
        mentions(p.question, HELDOUT) or any(c.section in HELDOUT for c in p.context)
        for p in heldout
    )
    train_q = {p.question for p in train}
    assert not train_q & {p.question for p in heldout}


def test_pairs_are_in_the_service_prompt_format_and_cite_real_passages(dataset) -> None:  # type: ignore[no-untyped-def]
    train, _, report = dataset
    assert {"notes", "compare", "roadmap", "refusal", "curated"} <= set(report.by_origin)
    for pair in train:
        assert pair.messages() == build_messages(pair.question, pair.context)
        numbers = cited_numbers(pair.answer)
        assert all(1 <= n <= len(pair.context) for n in numbers)
        if pair.origin in {"notes", "compare", "roadmap"}:
            # every sentence of a generated answer carries its citation
            parts = sentences(pair.answer, limit=9, words=999)
            assert all("[" in s for s in parts if len(s.split()) > 2), pair.answer
    compare = [p for p in train if p.origin == "compare"]
    assert compare and all(len(cited_numbers(p.answer)) == 2 for p in compare)


def test_refusals_answer_out_of_scope_questions(dataset) -> None:  # type: ignore[no-untyped-def]
    train, _, _ = dataset
    refusals = [p for p in train if p.origin == "refusal"]
    assert len(refusals) >= 20
    assert all(p.answer == NOT_COVERED and p.citations == [] and p.context for p in refusals)


def test_roadmap_order_and_rules_are_taught(dataset) -> None:  # type: ignore[no-untyped-def]
    train, _, _ = dataset
    by_q = {p.question: p.answer for p in train}
    assert "Phase 3: Software Engineering Tooling" in by_q["What comes after Phase 2?"]
    assert by_q["Can I skip Python and start with machine learning?"].startswith("No.")


def test_answers_are_whole_sentences() -> None:
    text = (
        "Ridge is linear regression with an L2 penalty. scikit-learn minimizes \u00b6 "
        "The penalty shrinks weights (e.g. `w` toward 0). A third sentence."
    )
    assert sentences(text) == [
        "Ridge is linear regression with an L2 penalty.",
        "The penalty shrinks weights (e.g. `w` toward 0).",
    ]
    note = (CORPUS / "notes" / "phase-5-core-ml.md").read_text(encoding="utf-8")
    drafts = topic_drafts(note, "notes/phase-5-core-ml.md")
    ridge = next(d for d in drafts if d.question == "What is Ridge?")
    assert ridge.answer.startswith("Ridge regression is linear regression with an L2 penalty")
    assert "minimizes" not in ridge.answer


def test_heldout_passages_are_dropped_by_section() -> None:
    keep = make_chunk("Ridge.", section="Ridge")
    assert drop_heldout_passages([NOISE, keep], HELDOUT) == [keep]
    assert mentions("How does Docker compare with Kubernetes?", HELDOUT) == "Docker"
    assert mentions("What is gradient boosting?", HELDOUT) == "Gradient boosting (XGBoost)"
    assert mentions("What is a hash function?", HELDOUT) is None


def test_write_dataset_writes_pairs_heldout_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    summary = write_dataset(CORPUS, out, noisy_retriever, 2, "v-test", None)
    assert out.is_file() and heldout_path(out).is_file() and manifest_path(out).is_file()
    assert summary["heldout_topics"] == HELDOUT and summary["index_version"] == "v-test"
    assert "held out: 17 topics" in summary["text"]
