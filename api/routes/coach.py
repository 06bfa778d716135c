"""The study coach over HTTP: quizzes, graded answers, progress and what to study next.

A learner is the caller's API key when keys are configured; otherwise a learner id the
server issues in the ``X-Learner-Id`` response header, which the client sends back.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from api.deps import AppStateDep, ClientDep
from api.schemas import ErrorResponse
from assistant.coach import Bank, StudyCoach
from assistant.errors import ConfigError
from assistant.types import Answer

logger = logging.getLogger(__name__)

router = APIRouter(tags=["coach"])
LEARNER_HEADER = "X-Learner-Id"
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 404, 409, 422, 429, 503)
}


class QuizRequest(BaseModel):
    phase: int | None = Field(None, ge=1, le=9, description="Only this roadmap phase.")
    topic: str | None = Field(None, max_length=200, description="Only this topic (heading).")
    n: int = Field(5, ge=1, le=20, description="Questions in the quiz.")


class QuizQuestion(BaseModel):
    id: str
    type: str
    prompt: str
    options: list[str] | None = None
    phase: int | None
    topic: str


class QuizResponse(BaseModel):
    quiz_id: str
    questions: list[QuizQuestion]


class AnswerIn(BaseModel):
    id: str = Field(..., max_length=64)
    answer: str = Field(..., max_length=2000)


class AnswersRequest(BaseModel):
    answers: list[AnswerIn] = Field(..., min_length=1, max_length=20)


class Learner(BaseModel):
    id: str


def get_learner(request: Request, response: Response, client: ClientDep, state: AppStateDep) -> str:
    """The API key's id, or the issued learner id (a new one when none or an unknown one)."""
    if state.key_hashes:
        return f"key:{client.key_id}"
    coach = _coach(state.coach)
    presented = request.headers.get(LEARNER_HEADER, "")
    learner = coach.store.known_learner(presented) or coach.store.issue_learner()
    response.headers[LEARNER_HEADER] = learner
    return f"learner:{learner}"


LearnerDep = Annotated[str, Depends(get_learner)]


def asked_by(state: Any, request: Request, key_id: str, answer: Answer) -> str | None:
    """The learner a question counts for in progress: the key, or a learner id this server
    issued; None for anonymous callers without one, and for answers that cite nothing.
    No query when the learner id was found before (``SqlCoachStore.remembered``)."""
    coach: StudyCoach | None = state.coach
    if coach is None or not answer.citations:
        return None
    if state.key_hashes:
        return f"key:{key_id}"
    known = coach.store.known_learner(request.headers.get(LEARNER_HEADER, ""))
    return f"learner:{known}" if known else None


def count_for(coach: StudyCoach, learner: str, answer: Answer) -> None:
    """Count the question under the roadmap phase its answer cites; best effort."""
    try:
        coach.count_question(learner, answer.citations[0].phases)
    except SQLAlchemyError as exc:
        logger.warning("question not counted for progress: %s", exc)


def count_asked(state: Any, request: Request, key_id: str, answer: Answer) -> None:
    """Count a question for its learner (``asked_by``); never fails the answer."""
    try:
        learner = asked_by(state, request, key_id, answer)
    except SQLAlchemyError as exc:
        logger.warning("question not counted for progress: %s", exc)
        return
    if learner is not None and state.coach is not None:
        count_for(state.coach, learner, answer)


def _coach(coach: StudyCoach | None) -> StudyCoach:
    if coach is None:
        raise ConfigError("the study coach is not configured on this server")
    return coach


def _bank(state: Any) -> tuple[StudyCoach, Bank]:
    coach = _coach(state.coach)
    snap = state.assistant.snapshot  # 503 when no index is published
    return coach, coach.bank(snap.version, snap.chunks, snap.quizzes)


@router.post("/v1/quizzes", response_model=QuizResponse, responses=ERRORS)
def create_quiz(body: QuizRequest, state: AppStateDep, learner: LearnerDep) -> dict[str, Any]:
    """Start a quiz: due cards first, then new questions, from the served index."""
    coach, bank = _bank(state)
    return coach.create_quiz(learner, bank, phase=body.phase, topic=body.topic, n=body.n)


@router.post("/v1/quizzes/{quiz_id}/answers", responses=ERRORS)
def create_quiz_answers(
    quiz_id: str, body: AnswersRequest, state: AppStateDep, learner: LearnerDep
) -> dict[str, Any]:
    """Grade a quiz's answers, each explained by the passage that answers it."""
    coach, bank = _bank(state)
    answers = [{"id": a.id, "answer": a.answer} for a in body.answers]
    return coach.answer_quiz(learner, quiz_id, answers, bank)


@router.get("/v1/progress", responses=ERRORS)
def read_progress(state: AppStateDep, learner: LearnerDep) -> dict[str, Any]:
    """Per roadmap phase: topics seen, cards due, mastery and questions asked."""
    coach, bank = _bank(state)
    return {"phases": coach.progress(learner, bank), "index_version": bank.version}


@router.get("/v1/next", responses=ERRORS)
def read_next(state: AppStateDep, learner: LearnerDep) -> dict[str, Any]:
    """What to study next along the roadmap, why, and the roadmap passage that says so."""
    coach, bank = _bank(state)
    return coach.next_step(learner, bank)
