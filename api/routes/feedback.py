"""POST /v1/feedback: a learner's thumbs up or down, and optional comment, on one answer."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppStateDep, ClientDep
from api.schemas import ErrorResponse
from assistant.errors import ConfigError
from assistant.feedback import MAX_COMMENT_CHARS, MAX_REQUEST_ID_CHARS

router = APIRouter(tags=["feedback"])


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"request_id": "9b2c...", "rating": "down", "comment": "Too vague."}]
        },
    )
    request_id: str = Field(
        ..., min_length=1, max_length=MAX_REQUEST_ID_CHARS, description="The answer's request_id."
    )
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS, description="Optional.")


class FeedbackResponse(BaseModel):
    request_id: str
    rating: Literal["up", "down"]
    comment: str | None
    created_at: str
    updated_at: str


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses={s: {"model": ErrorResponse} for s in (401, 404, 422, 429)},
)
def create_feedback(body: FeedbackRequest, state: AppStateDep, client: ClientDep) -> dict[str, Any]:
    """Rate an answer up or down by its request_id (a second rating replaces the first)."""
    if state.feedback is None:
        raise ConfigError("feedback is not configured on this server")
    assistant = state.assistant
    snap = assistant.loaded
    row = state.feedback.submit(
        client.key_id,
        body.request_id,
        body.rating,
        body.comment,
        turn=assistant.answered.recall(client.key_id, body.request_id.strip()),
        passages=snap.passages if snap is not None else None,
        wait_for_ledger=lambda: assistant.ledger.flush(2.0),
    )
    out = row.to_json()
    return {k: out[k] for k in ("request_id", "rating", "comment", "created_at", "updated_at")}
