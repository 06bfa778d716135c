"""Spaced repetition with FSRS (the ``fsrs`` package): one card per question a learner saw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fsrs import Card, Rating, Scheduler

from assistant.coach.grading import Grade

EASY_SCORE = 0.85  # a short answer this close to the reference counts as Good, else Hard


def rating_for(grade: Grade, qtype: str) -> Rating:
    """Wrong -> Again; right -> Good; a right short answer that only just passed -> Hard."""
    if not grade.correct:
        return Rating.Again
    if qtype == "short" and grade.score < EASY_SCORE:
        return Rating.Hard
    return Rating.Good


class CardScheduler:
    """Reviews cards serialised as JSON dicts, so the store needs no FSRS types."""

    def __init__(self, *, desired_retention: float = 0.9, fuzz: bool = False) -> None:
        # No fuzzing by default: the same history gives the same due date (testable).
        self._fsrs = Scheduler(desired_retention=desired_retention, enable_fuzzing=fuzz)

    def review(
        self, card: dict[str, Any] | None, grade: Grade, qtype: str, now: datetime
    ) -> tuple[dict[str, Any], datetime]:
        """The card after this review, and when it is due next."""
        current = Card.from_dict(card) if card else Card(due=now)  # type: ignore[arg-type]
        updated, _log = self._fsrs.review_card(current, rating_for(grade, qtype), now)
        saved: dict[str, Any] = dict(updated.to_dict())
        return saved, updated.due
