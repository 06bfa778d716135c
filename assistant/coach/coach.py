"""`StudyCoach`: quizzes from the served index, graded, scheduled, and turned into progress.

The question bank of an index version is built once from its chunks (deterministic) and
dropped when a new version is served; cards whose question vanished with the old version
stop counting. A learner is a string id (an API key's id, or a server-issued learner id).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assistant.coach.grading import AnswerGrader
from assistant.coach.progress import phase_progress, what_next
from assistant.coach.quizgen import Question, build_bank
from assistant.coach.schedule import CardScheduler
from assistant.coach.store import CardRow, QuizRow, SqlCoachStore
from assistant.coach.topics import extract_topics
from assistant.errors import BadInputError, ConflictError, NotFoundError
from assistant.roadmap import Roadmap
from assistant.types import Chunk

MAX_QUESTIONS = 20


@dataclass(slots=True)
class Bank:
    """The questions of one index version, with the chunks they cite."""

    version: str
    questions: dict[str, Question]
    chunks: dict[str, Chunk]
    topics: dict[int | None, list[str]]  # phase -> topic names in corpus order


def citation(chunk: Chunk) -> dict[str, Any]:
    return {
        "chunk_id": chunk.chunk_id,
        "source": chunk.source,
        "title": chunk.title,
        "section": chunk.section,
        "url": chunk.url,
        "snippet": chunk.text[:280],
    }


class StudyCoach:
    """Quizzes, grading, spaced repetition, progress and what-next for each learner."""

    def __init__(
        self,
        store: SqlCoachStore,
        grader: AnswerGrader,
        roadmap: Roadmap,
        *,
        scheduler: CardScheduler | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.grader = grader
        self.roadmap = roadmap
        self.scheduler = scheduler or CardScheduler()
        self.clock = clock
        self._bank: Bank | None = None

    def close(self) -> None:
        """Let go of the store's database connections."""
        self.store.close()

    # ------------------------------------------------------------------ the bank
    def bank(
        self,
        version: str,
        chunks: Sequence[Chunk],
        stored: Sequence[dict[str, Any]] | None = None,
    ) -> Bank:
        """The bank of ``version``: the one the build stored with it (``stored``), or made
        from its chunks (the same questions, for versions built before banks were stored);
        replaced when the served version changes."""
        bank = self._bank
        if bank is None or bank.version != version:
            if stored is not None:
                questions = [Question.from_json(d) for d in stored]
            else:
                questions = build_bank(extract_topics(chunks))
            by_phase: dict[int | None, list[str]] = {}
            for q in questions:  # topic order = corpus order, as the bank was built
                names = by_phase.setdefault(q.phase, [])
                if q.topic not in names:
                    names.append(q.topic)
            bank = Bank(
                version,
                {q.id: q for q in questions},
                {c.chunk_id: c for c in chunks},
                by_phase,
            )
            self._bank = bank
        return bank

    # ------------------------------------------------------------------ quizzes
    def create_quiz(
        self,
        learner: str,
        bank: Bank,
        *,
        phase: int | None = None,
        topic: str | None = None,
        n: int = 5,
    ) -> dict[str, Any]:
        """Due cards first (most overdue first), then questions the learner has not seen."""
        if not 1 <= n <= MAX_QUESTIONS:
            raise BadInputError(f"n must be between 1 and {MAX_QUESTIONS}, got {n}")
        if phase is not None and phase not in self.roadmap.phases:
            raise BadInputError(f"phase must be one of {sorted(self.roadmap.phases)}, got {phase}")
        pool = [
            q
            for q in bank.questions.values()
            if (phase is None or q.phase == phase)
            and (topic is None or q.topic.casefold() == topic.casefold())
        ]
        if not pool:
            raise NotFoundError(
                f"no quiz questions for phase={phase} topic={topic!r} in index {bank.version}"
            )
        now = self.clock()
        seen = {c.question_id: c for c in self.store.cards(learner)}
        due = sorted(
            (q for q in pool if q.id in seen and seen[q.id].due <= now),
            key=lambda q: seen[q.id].due,
        )
        # New questions: one per topic before a second from the same topic, roadmap order.
        # Questions seen in earlier quizzes count too, so quizzes of one question each
        # still go round the topics instead of exhausting the first topic.
        fresh = [q for q in pool if q.id not in seen]
        order = {name: i for i, name in enumerate(t for ts in bank.topics.values() for t in ts)}
        seen_per_topic: dict[str, int] = {}
        for c in seen.values():
            seen_per_topic[c.topic] = seen_per_topic.get(c.topic, 0) + 1
        rank: dict[str, int] = {}
        for q in fresh:
            before = sum(1 for r in fresh[: fresh.index(q)] if r.topic == q.topic)
            rank[q.id] = seen_per_topic.get(q.topic, 0) + before
        fresh.sort(key=lambda q: (rank[q.id], q.phase or 99, order.get(q.topic, 0)))
        chosen = (due + fresh)[:n]
        quiz_id = uuid.uuid4().hex
        self.store.add_quiz(
            QuizRow(quiz_id, learner, bank.version, now, [q.to_json() for q in chosen], None)
        )
        return {"quiz_id": quiz_id, "questions": [q.public() for q in chosen]}

    def answer_quiz(
        self, learner: str, quiz_id: str, answers: list[dict[str, str]], bank: Bank
    ) -> dict[str, Any]:
        """Grade every answer, schedule its card, and return the results with progress."""
        quiz = self.store.quiz(learner, quiz_id)
        if quiz is None:
            raise NotFoundError(f"no quiz {quiz_id!r} for this learner")
        questions = {d["id"]: Question.from_json(d) for d in quiz.questions}
        for a in answers:
            if a["id"] not in questions:
                raise BadInputError(f"question {a['id']!r} is not part of quiz {quiz_id!r}")
        if len({a["id"] for a in answers}) != len(answers):
            raise BadInputError("each question may be answered once per submission")
        now = self.clock()
        if not self.store.mark_answered(learner, quiz_id, now):
            raise ConflictError(f"quiz {quiz_id!r} was already answered; start a new quiz")
        cards = {c.question_id: c for c in self.store.cards(learner)}
        results = []
        for a in answers:
            q = questions[a["id"]]
            grade = self.grader.grade(q, a["answer"])
            prev = cards.get(q.id)
            card, due = self.scheduler.review(prev.card if prev else None, grade, q.type, now)
            self.store.save_card(
                learner,
                CardRow(
                    q.id,
                    q.phase,
                    q.topic,
                    card,
                    due,
                    grade.correct,
                    (prev.reviews if prev else 0) + 1,
                ),
                now,
            )
            chunk = bank.chunks.get(q.chunk_id)
            results.append(
                {
                    "id": q.id,
                    "correct": grade.correct,
                    "score": grade.score,
                    "expected": q.expected,
                    "explanation": q.explanation,
                    "citation": citation(chunk) if chunk else {"chunk_id": q.chunk_id},
                    "due": due.isoformat(),
                }
            )
        return {"results": results, "progress": self.progress(learner, bank)}

    # ------------------------------------------------------------------ progress
    def progress(self, learner: str, bank: Bank) -> list[dict[str, Any]]:
        """Per phase: topics seen, cards due, mastery, questions asked."""
        return phase_progress(
            self.roadmap, bank, self.store.cards(learner), self.store.asked(learner), self.clock()
        )

    def next_step(self, learner: str, bank: Bank) -> dict[str, Any]:
        """What to study next, why (one sentence), and the roadmap passage that says so."""
        return what_next(self.roadmap, bank, self.progress(learner, bank))

    def count_question(self, learner: str, phases: Sequence[int]) -> None:
        """Record that the learner asked a question about these phases (the first counts)."""
        known = [p for p in phases if p in self.roadmap.phases]
        if known:
            self.store.count_question(learner, min(known))
