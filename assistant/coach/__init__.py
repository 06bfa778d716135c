"""The study coach: quizzes from the corpus, grading, FSRS scheduling, progress, what next."""

from assistant.coach.coach import Bank, StudyCoach
from assistant.coach.grading import AnswerGrader
from assistant.coach.quizgen import Question, build_bank
from assistant.coach.schedule import CardScheduler
from assistant.coach.store import SqlCoachStore, metadata
from assistant.coach.topics import extract_topics

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
