"""The study coach: quizzes from the corpus, grading, FSRS scheduling, progress, what next.

Names are imported from their modules on first use (PEP 562): the build job needs only
``build_bank`` and ``extract_topics`` (pure Python) and must not pay for the store's
SQLAlchemy imports on every `assistant index build`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.coach.coach import Bank, StudyCoach
    from assistant.coach.grading import AnswerGrader
    from assistant.coach.quizgen import Question, build_bank
    from assistant.coach.schedule import CardScheduler
    from assistant.coach.store import SqlCoachStore, metadata
    from assistant.coach.topics import extract_topics

_MODULE_OF = {
    "AnswerGrader": "grading",
    "Bank": "coach",
    "CardScheduler": "schedule",
    "Question": "quizgen",
    "SqlCoachStore": "store",
    "StudyCoach": "coach",
    "build_bank": "quizgen",
    "extract_topics": "topics",
    "metadata": "store",
}

__all__ = [
    "AnswerGrader",
    "Bank",
    "CardScheduler",
    "Question",
    "SqlCoachStore",
    "StudyCoach",
    "build_bank",
    "extract_topics",
    "metadata",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"assistant.coach.{module}"), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value
