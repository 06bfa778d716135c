"""Learners' quizzes and cards, in the ledger's database (SQLite by default, PostgreSQL by URL).

Every read and write names the learner: one learner's rows are never visible to another.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from assistant.lru import LRU
from assistant.shared_engine import SharedEngine

metadata = sa.MetaData()

quizzes = sa.Table(
    "coach_quizzes",
    metadata,
    sa.Column("quiz_id", sa.String(32), primary_key=True),
    sa.Column("learner_id", sa.String(64), nullable=False, index=True),
    sa.Column("index_version", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("questions", sa.Text, nullable=False),  # JSON list of Question.to_json()
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
)

cards = sa.Table(
    "coach_cards",
    metadata,
    sa.Column("learner_id", sa.String(64), primary_key=True),
    sa.Column("question_id", sa.String(32), primary_key=True),
    sa.Column("phase", sa.Integer, nullable=True),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("card", sa.Text, nullable=False),  # FSRS card as JSON
    sa.Column("due", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("last_correct", sa.Boolean, nullable=False),
    sa.Column("reviews", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

learners = sa.Table(
    "coach_learners",
    metadata,
    sa.Column("learner_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
_LEARNER_ID = re.compile(r"^[0-9a-f]{32}$")


def is_learner_id(text: str) -> bool:
    """True when ``text`` has the form of an issued learner id (32 lowercase hex)."""
    return bool(_LEARNER_ID.match(text))


KNOWN_LEARNERS = 65_536  # issued learner ids remembered per process (~100 bytes each)

asked = sa.Table(
    "coach_asked",
    metadata,
    sa.Column("learner_id", sa.String(64), primary_key=True),
    sa.Column("phase", sa.Integer, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)


@dataclass(slots=True)
class CardRow:
    question_id: str
    phase: int | None
    topic: str
    card: dict[str, Any]
    due: datetime
    last_correct: bool
    reviews: int


@dataclass(slots=True)
class QuizRow:
    quiz_id: str
    learner_id: str
    index_version: str
    created_at: datetime
    questions: list[dict[str, Any]]
    answered_at: datetime | None


def _aware(ts: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; everything here is UTC.
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


class SqlCoachStore:
    """Quizzes, cards and per-phase question counts of every learner."""

    def __init__(self, engine: sa.Engine | SharedEngine) -> None:
        # Migrated by the caller; a plain engine is this store's own, disposed on close.
        self.database = SharedEngine.of(engine)
        self.engine = self.database.engine
        self._release = self.database.hold()
        # Learner ids found issued (ids are never withdrawn, so a found one stays valid):
        # asking twice per answer, or per request of the same learner, costs no query.
        self._known: LRU[str, bool] = LRU(KNOWN_LEARNERS)

    def close(self) -> None:
        """Let go of the engine (the last store of a shared engine disposes it)."""
        self._release()

    def issue_learner(self) -> str:
        """A new learner id (random, 128 bits), remembered as issued by this server."""
        learner = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(learners.insert().values(learner_id=learner, created_at=datetime.now(UTC)))
        return learner

    def known_learner(self, learner: str) -> str | None:
        """``learner`` if this server issued it, else None (a made-up id is not trusted)."""
        if not _LEARNER_ID.match(learner):
            return None
        if self._known.get(learner):
            return learner
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(learners.c.learner_id).where(learners.c.learner_id == learner)
            ).first()
        if found:
            self._known.put(learner, True)
        return learner if found else None

    def remembered(self, learner: str) -> bool:
        """True when this process already found ``learner`` issued (no query is made)."""
        return bool(self._known.get(learner))

    def add_quiz(self, row: QuizRow) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                quizzes.insert().values(
                    quiz_id=row.quiz_id,
                    learner_id=row.learner_id,
                    index_version=row.index_version,
                    created_at=row.created_at,
                    questions=json.dumps(row.questions),
                    answered_at=None,
                )
            )

    def quiz(self, learner_id: str, quiz_id: str) -> QuizRow | None:
        """The learner's quiz, or None (also when it belongs to someone else)."""
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(quizzes).where(
                    quizzes.c.quiz_id == quiz_id, quizzes.c.learner_id == learner_id
                )
            ).first()
        if r is None:
            return None
        return QuizRow(
            r.quiz_id,
            r.learner_id,
            r.index_version,
            _aware(r.created_at),  # type: ignore[arg-type]
            json.loads(r.questions),
            _aware(r.answered_at),
        )

    def mark_answered(self, learner_id: str, quiz_id: str, when: datetime) -> bool:
        """Atomically claim the quiz for grading; False if it was already answered."""
        with self.engine.begin() as conn:
            res = conn.execute(
                quizzes.update()
                .where(
                    quizzes.c.quiz_id == quiz_id,
                    quizzes.c.learner_id == learner_id,
                    quizzes.c.answered_at.is_(None),
                )
                .values(answered_at=when)
            )
        return res.rowcount == 1

    def cards(self, learner_id: str) -> list[CardRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cards).where(cards.c.learner_id == learner_id)).all()
        return [
            CardRow(
                r.question_id,
                r.phase,
                r.topic,
                json.loads(r.card),
                _aware(r.due),  # type: ignore[arg-type]
                r.last_correct,
                r.reviews,
            )
            for r in rows
        ]

    def save_card(self, learner_id: str, row: CardRow, now: datetime) -> None:
        values = {
            "phase": row.phase,
            "topic": row.topic,
            "card": json.dumps(row.card),
            "due": row.due,
            "last_correct": row.last_correct,
            "reviews": row.reviews,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            updated = conn.execute(
                cards.update()
                .where(cards.c.learner_id == learner_id, cards.c.question_id == row.question_id)
                .values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(
                    cards.insert().values(
                        learner_id=learner_id, question_id=row.question_id, **values
                    )
                )

    def count_question(self, learner_id: str, phase: int) -> None:
        """One more question asked by this learner about this roadmap phase."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                asked.update()
                .where(asked.c.learner_id == learner_id, asked.c.phase == phase)
                .values(count=asked.c.count + 1)
            )
            if updated.rowcount == 0:
                conn.execute(asked.insert().values(learner_id=learner_id, phase=phase, count=1))

    def asked(self, learner_id: str) -> dict[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(asked.c.phase, asked.c.count.label("n")).where(
                    asked.c.learner_id == learner_id
                )
            ).all()
        return {int(r.phase): int(r.n) for r in rows}
