"""Quizzes, FSRS scheduling across simulated days, isolation and index-version invalidation."""

from __future__ import annotations

import pytest

from assistant.coach import StudyCoach
from assistant.errors import BadInputError, ConflictError, NotFoundError


def _right(bank, qid: str) -> str:  # type: ignore[no-untyped-def]
    return bank.questions[qid].expected


def test_quiz_then_answers_then_due_cards_come_back_first(coach: StudyCoach, chunks, clock) -> None:  # type: ignore[no-untyped-def]
    bank = coach.bank("v1", chunks)
    quiz = coach.create_quiz("alice", bank, phase=5, n=4)
    ids = [q["id"] for q in quiz["questions"]]
    assert len(ids) == 4 and all(q["phase"] == 5 for q in quiz["questions"])
    # One right, the rest wrong.
    answers = [{"id": ids[0], "answer": _right(bank, ids[0])}] + [
        {"id": i, "answer": "no idea"} for i in ids[1:]
    ]
    out = coach.answer_quiz("alice", quiz["quiz_id"], answers, bank)
    assert [r["correct"] for r in out["results"]] == [True, False, False, False]
    assert all(r["citation"]["source"].startswith("notes/") for r in out["results"])
    phase5 = next(p for p in out["progress"] if p["phase"] == 5)
    assert phase5["cards"] == 4 and phase5["mastery"] == 0.25

    # Two minutes later the failed cards (Again: the 1-minute learning step) are due; the
    # right one (Good: the 10-minute step) is not.
    clock.advance(minutes=2)
    again = coach.create_quiz("alice", bank, phase=5, n=4)
    assert {q["id"] for q in again["questions"][:3]} == set(ids[1:])
    assert ids[0] not in {q["id"] for q in again["questions"]}


def test_intervals_grow_while_a_card_is_recalled(coach: StudyCoach, chunks, clock) -> None:  # type: ignore[no-untyped-def]
    """FSRS over simulated weeks: learning step (minutes), then days, then longer."""
    bank = coach.bank("v1", chunks)
    mcq = next(q for q in bank.questions.values() if q.type == "mcq" and q.phase == 1)
    gaps = []
    for _ in range(4):
        quiz = coach.create_quiz("bob", bank, topic=mcq.topic, n=1)
        assert quiz["questions"][0]["id"] == mcq.id  # the due card comes first
        pick = str(mcq.options.index(mcq.expected) + 1)  # by option number, as a CLI user would
        res = coach.answer_quiz("bob", quiz["quiz_id"], [{"id": mcq.id, "answer": pick}], bank)
        assert res["results"][0]["correct"]
        card = next(c for c in coach.store.cards("bob") if c.question_id == mcq.id)
        gaps.append(card.due - clock.now)
        clock.now = card.due  # come back exactly when it is due
    assert gaps[0].total_seconds() <= 3600  # a learning step, minutes away
    assert gaps[1].days >= 1 and gaps[3] > gaps[2] > gaps[1]


def test_learners_never_see_each_others_quizzes_or_cards(coach: StudyCoach, chunks) -> None:  # type: ignore[no-untyped-def]
    bank = coach.bank("v1", chunks)
    quiz = coach.create_quiz("alice", bank, n=2)
    with pytest.raises(NotFoundError):
        coach.answer_quiz(
            "mallory", quiz["quiz_id"], [{"id": quiz["questions"][0]["id"], "answer": "x"}], bank
        )
    coach.answer_quiz(
        "alice", quiz["quiz_id"], [{"id": quiz["questions"][0]["id"], "answer": "x"}], bank
    )
    assert coach.store.cards("mallory") == []
    assert all(p["cards"] == 0 for p in coach.progress("mallory", bank))
    assert sum(p["cards"] for p in coach.progress("alice", bank)) == 1


def test_bad_requests_get_clear_errors_and_change_nothing(coach: StudyCoach, chunks) -> None:  # type: ignore[no-untyped-def]
    bank = coach.bank("v1", chunks)
    quiz = coach.create_quiz("alice", bank, n=2)
    qid = quiz["questions"][0]["id"]
    with pytest.raises(BadInputError, match="not part of quiz"):
        coach.answer_quiz("alice", quiz["quiz_id"], [{"id": "nope", "answer": "x"}], bank)
    assert coach.store.cards("alice") == []  # nothing recorded, quiz still open
    coach.answer_quiz("alice", quiz["quiz_id"], [{"id": qid, "answer": "x"}], bank)
    with pytest.raises(ConflictError, match="already answered"):
        coach.answer_quiz("alice", quiz["quiz_id"], [{"id": qid, "answer": "x"}], bank)
    with pytest.raises(BadInputError, match="phase"):
        coach.create_quiz("alice", bank, phase=42)
    with pytest.raises(BadInputError, match="n must be"):
        coach.create_quiz("alice", bank, n=0)
    with pytest.raises(NotFoundError):
        coach.create_quiz("alice", bank, topic="Underwater basket weaving")


def test_a_new_index_version_replaces_the_bank_and_drops_vanished_cards(
    coach: StudyCoach, chunks
) -> None:  # type: ignore[no-untyped-def]
    bank = coach.bank("v1", chunks)
    quiz = coach.create_quiz("alice", bank, phase=2, n=1)
    qid = quiz["questions"][0]["id"]
    coach.answer_quiz("alice", quiz["quiz_id"], [{"id": qid, "answer": "x"}], bank)
    topic = bank.questions[qid].topic
    # The next version no longer has that topic's passages.
    v2 = coach.bank("v2", [c for c in chunks if not c.section.endswith(topic)])
    assert v2 is not bank and qid not in v2.questions
    assert sum(p["cards"] for p in coach.progress("alice", v2)) == 0
    assert coach.bank("v2", chunks) is v2  # cached per version


def test_what_next_follows_the_roadmap_order_with_a_citation(coach: StudyCoach, chunks) -> None:  # type: ignore[no-untyped-def]
    bank = coach.bank("v1", chunks)
    first = coach.next_step("newbie", bank)
    assert first["phase"] == 1 and first["topic"] == bank.topics[1][0]
    assert "Phase 1" in first["reason"] and first["citation"]["source"].endswith("roadmap.md")
    # Master every phase-1 question: what next moves to phase 2.
    for q in [q for q in bank.questions.values() if q.phase == 1]:
        quiz = coach.create_quiz("newbie", bank, topic=q.topic, n=20)
        answers = [{"id": x["id"], "answer": _right(bank, x["id"])} for x in quiz["questions"]]
        coach.answer_quiz("newbie", quiz["quiz_id"], answers, bank)
    nxt = coach.next_step("newbie", bank)
    assert nxt["phase"] == 2 and "mastered Phase 1" in nxt["reason"]
    assert "Phase 2:" in nxt["citation"]["section"]


def test_the_build_stores_the_bank_with_the_version(coach: StudyCoach, corpus_index) -> None:  # type: ignore[no-untyped-def]
    """Made at build time, checksummed with the version, the same questions as from chunks."""
    from assistant.index import MANIFEST, QUIZZES, Manifest, resolve_version_dir
    from assistant.snapshot import IndexSnapshot

    version, path = resolve_version_dir(corpus_index)
    assert QUIZZES in Manifest.read(path / MANIFEST).files
    snap = IndexSnapshot.load(corpus_index, version)
    assert snap.quizzes
    stored = coach.bank(version, snap.chunks, snap.quizzes)
    made = StudyCoach(coach.store, coach.grader, coach.roadmap).bank(version, snap.chunks)
    assert [q.to_json() for q in stored.questions.values()] == [
        q.to_json() for q in made.questions.values()
    ]
    assert stored.topics == made.topics
