"""The question bank of the real corpus: answerable, unambiguous, deterministic."""

from __future__ import annotations

import re
from collections import Counter

from assistant.coach import build_bank, extract_topics
from assistant.coach.quizgen import BLANK, mentions
from assistant.coach.topics import sentences


def test_every_phase_gets_questions_of_every_type(bank_questions) -> None:  # type: ignore[no-untyped-def]
    by_phase = Counter(q.phase for q in bank_questions)
    assert set(by_phase) == set(range(1, 10)), by_phase
    assert all(n >= 15 for n in by_phase.values()), by_phase
    assert {q.type for q in bank_questions} == {"mcq", "short", "cloze"}


def test_every_question_is_answered_by_its_cited_passage(chunks, bank_questions) -> None:  # type: ignore[no-untyped-def]
    by_id = {c.chunk_id: c for c in chunks}
    flat = {cid: " ".join(c.text.split()) for cid, c in by_id.items()}
    for q in bank_questions:
        passage = flat[q.chunk_id]
        # The explanation's first sentence is in the passage (whitespace-normalised) ...
        first = " ".join(sentences(q.explanation)[0].split())
        assert first[:60] in passage, (q.id, q.prompt)
        # ... and the expected answer is in the passage or is the passage's topic heading.
        if q.type == "cloze":
            assert q.expected in passage and BLANK in q.prompt
            assert q.expected not in q.prompt.replace(BLANK, "")
        if q.type == "mcq":
            assert q.expected == q.topic and q.expected in q.options


def test_no_mcq_distractor_is_named_by_the_cited_passage(chunks, bank_questions) -> None:  # type: ignore[no-untyped-def]
    by_id = {c.chunk_id: c for c in chunks}
    mcqs = [q for q in bank_questions if q.type == "mcq"]
    assert len(mcqs) >= 60
    for q in mcqs:
        assert len(q.options) == 4 and len(set(q.options)) == 4
        for option in q.options:
            if option != q.expected:
                assert not mentions(by_id[q.chunk_id].text, option), (q.prompt, option)
        # The prompt does not give the answer away.
        assert q.expected.lower() not in q.prompt.lower()


def test_distractors_are_siblings_from_the_same_phase(bank_questions) -> None:  # type: ignore[no-untyped-def]
    topics_by_source: dict[str, set[str]] = {}
    for q in bank_questions:
        topics_by_source.setdefault(q.source, set()).add(q.topic)
    for q in bank_questions:
        if q.type == "mcq":
            assert set(q.options) <= topics_by_source[q.source] | {q.topic}


def test_bank_is_deterministic_and_ids_are_stable(chunks, bank_questions) -> None:  # type: ignore[no-untyped-def]
    again = build_bank(extract_topics(list(reversed(chunks))))
    assert [q.to_json() for q in again] == [q.to_json() for q in bank_questions]
    assert len({q.id for q in bank_questions}) == len(bank_questions)


def test_public_view_hides_the_answer(bank_questions) -> None:  # type: ignore[no-untyped-def]
    for q in bank_questions[:50]:
        public = q.public()
        assert set(public) <= {"id", "type", "prompt", "options", "phase", "topic"}
        if q.type != "mcq":
            assert q.expected not in public["prompt"].replace(BLANK, "") or q.type == "short"


def test_unlabelled_material_gives_questions_from_defining_sentences() -> None:
    from assistant.types import Chunk

    def chunk(section: str, text: str, n: int) -> Chunk:
        return Chunk(f"c{n}", "docs/a.md", "Guide", section, text, None, (3,), "h", n)

    topics = extract_topics(
        [
            chunk(
                "Bloom filters", "A Bloom filter is a probabilistic set with no false negatives.", 0
            ),
            chunk("Tips", "Remember to drink water while you study for long hours.", 1),
        ]
    )
    assert [t.name for t in topics] == ["Bloom filters"]
    assert re.search("probabilistic", topics[0].fields["core"].text)
