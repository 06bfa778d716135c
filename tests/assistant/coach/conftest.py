"""Coach fixtures: the real corpus's chunks and question bank (built once per session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.coach import AnswerGrader, SqlCoachStore, StudyCoach, build_bank, extract_topics
from assistant.coach.store import metadata
from assistant.ledger_db import create_ledger_engine
from assistant.roadmap import Roadmap
from tests.assistant.coach.corpus_chunks import CORPUS, corpus_chunks


@pytest.fixture(scope="session")
def chunks(embedder):  # type: ignore[no-untyped-def]
    return corpus_chunks(embedder)


@pytest.fixture(scope="session")
def bank_questions(chunks):  # type: ignore[no-untyped-def]
    return build_bank(extract_topics(chunks))


class Clock:
    """A settable clock: tests move it forward by days to simulate a learner's weeks."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def coach(embedder, tmp_path: Path, clock: Clock) -> StudyCoach:  # type: ignore[no-untyped-def]
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'coach.db'}")
    metadata.create_all(engine)
    return StudyCoach(
        SqlCoachStore(engine),
        AnswerGrader(embedder),
        Roadmap.from_file(CORPUS / "roadmap.md"),
        clock=clock,
    )
