"""POST /v1/ask: a cited answer, as JSON or as server-sent events."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import AppStateDep, ClientDep, RequestIdDep
from api.errors import status_for
from api.fastjson import FastJSONResponse
from api.routes.coach import count_asked
from api.routes.conversations import conversation_owner
from api.routes.sse import SSE_HEADERS, sse
from api.schemas import AskRequest, AskResponse, ErrorResponse
from assistant.errors import AssistantError
from assistant.service import AskOptions, StudyAssistant
from assistant.types import Answer, Delta, Done, Meta

logger = logging.getLogger(__name__)
router = APIRouter(tags=["answers"])


def options_for(
    body: AskRequest, request_id: str | None, client_key: str, owner: str | None
) -> AskOptions:
    return AskOptions(
        k=body.k,
        sources=body.sources,
        phases=body.phases,
        history=[{"role": m.role, "content": m.content or ""} for m in body.history],
        conversation_id=body.conversation_id,
        request_id=request_id,
        key_id=client_key,
        owner=owner,  # kept in the durable history when the caller can come back for it
        endpoint="ask",
    )


def stream_answer(
    assistant: StudyAssistant,
    question: str,
    opts: AskOptions,
    on_done: Callable[[Answer], None] = lambda _: None,
) -> Iterator[str]:
    """meta, delta*, done; an error after the stream began arrives as an `error` event."""
    try:
        for event in assistant.ask_events(question, opts):
            match event:
                case Meta():
                    yield sse("meta", event.to_json())
                case Delta(text=text):
                    yield sse("delta", {"text": text})
                case Done(answer=answer):
                    on_done(answer)
                    yield sse("done", answer.to_json())
    except AssistantError as exc:
        status, type_ = status_for(exc)
        yield sse("error", {"error": {"type": type_, "status": status, "message": str(exc)}})


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with stream=true"},
        401: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
    },
)
def create_answer(  # type: ignore[no-untyped-def]
    body: AskRequest,
    request: Request,
    state: AppStateDep,
    client: ClientDep,
    request_id: RequestIdDep,
):
    """Answer a question from the study corpus, citing passages as [n]."""
    assistant = state.assistant
    owner = conversation_owner(state, request, client)
    opts = options_for(body, request_id, client.key_id, owner)

    def counted(answer: Answer) -> None:
        count_asked(state, request, client.key_id, answer)

    if body.stream:
        # Validate before the 200 goes out, so bad input still gets a 4xx status.
        assistant.validate(body.question, "question", body.k)
        _ = assistant.snapshot  # no index: a 503 now, not a 200 followed by an error event
        return StreamingResponse(
            stream_answer(assistant, body.question, opts, counted),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    answer = assistant.ask(body.question, opts)
    counted(answer)
    return FastJSONResponse(answer.to_json())  # the AskResponse fields, encoded once
