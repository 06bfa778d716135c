"""Stored conversations over HTTP: the caller's list, one conversation, its Markdown, delete.

Whose conversations: a private API key's. Without keys, and for a public (widget) key,
which every visitor of a site shares, the owner is a learner id this server issued in
the ``X-Learner-Id`` response header (the coach's), sent back by the client; these
endpoints issue one to a caller without it. Another owner's conversation answers
exactly as an unknown one does (404), so ids leak nothing. Resuming a conversation is
``POST /v1/ask`` with its ``conversation_id``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import AppState, AppStateDep, Client, ClientDep
from api.routes.coach import LEARNER_HEADER
from api.schemas import ErrorResponse
from assistant.coach.store import is_learner_id
from assistant.conversation_export import conversation_markdown
from assistant.conversation_log import MAX_PAGE, SqlConversationLog
from assistant.errors import BadInputError, ConfigError, NotFoundError

router = APIRouter(tags=["conversations"])
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 404, 422, 429, 503)
}
_ID = re.compile(r"^[0-9a-f]{32}$")


class ConversationSummary(BaseModel):
    id: str
    title: str = Field(description="The first question, cut to 80 characters.")
    turn_count: int = Field(description="Messages stored: questions and answers.")
    created_at: str
    updated_at: str = Field(description="When it was last continued (ISO 8601, UTC).")


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]
    next_cursor: str | None = Field(description="?cursor= for the next page; null on the last.")


class Turn(BaseModel):
    seq: int
    role: Literal["user", "assistant"]
    content: str
    citations: list[dict[str, Any]] = Field(description="An answer's citations, as /v1/ask's.")
    request_id: str
    created_at: str


class ConversationDetail(ConversationSummary):
    turns: list[Turn]


def conversation_owner(state: AppState, request: Request, client: Client) -> str | None:
    """Who owns the caller's conversations; None when the caller has no identity of its own.

    A private key owns its conversations (its id, as the conversation store always used).
    Anonymous callers and public keys are many people: only an issued learner id tells
    them apart, so without one they own nothing (their conversations stay in the cache).
    """
    owner = owner_at_once(state, request, client)
    if not isinstance(owner, Undecided):
        return owner
    assert state.coach is not None  # owner_at_once is undecided only about learner ids
    learner = state.coach.store.known_learner(request.headers.get(LEARNER_HEADER, ""))
    return _learner_owner(client, learner) if learner else None


class Undecided:
    """``owner_at_once``: only a database query can tell who owns the conversation."""


UNDECIDED = Undecided()


def owner_at_once(state: AppState, request: Request, client: Client) -> str | Undecided | None:
    """``conversation_owner`` when it needs no query (for the event loop), else UNDECIDED."""
    if state.key_hashes and not client.public:
        return client.key_id
    learner = request.headers.get(LEARNER_HEADER, "")
    if state.coach is None or not is_learner_id(learner):
        return None  # what known_learner would say
    return _learner_owner(client, learner) if state.coach.store.remembered(learner) else UNDECIDED


def _learner_owner(client: Client, learner: str) -> str:
    return f"{client.key_id}|learner:{learner}" if client.public else f"learner:{learner}"


def get_owner(request: Request, response: Response, client: ClientDep, state: AppStateDep) -> str:
    """The caller's owner id; a caller without one is issued a learner id (X-Learner-Id)."""
    owner = conversation_owner(state, request, client)
    if owner is not None:
        return owner
    if state.coach is None:
        raise ConfigError("conversation history needs learner ids (the study coach's store)")
    learner = state.coach.store.issue_learner()
    response.headers[LEARNER_HEADER] = learner
    return _learner_owner(client, learner)


OwnerDep = Annotated[str, Depends(get_owner)]


def _log(state: AppState) -> SqlConversationLog:
    if state.assistant.history is None:
        raise ConfigError("conversation history is not configured on this server")
    return state.assistant.history


def _checked(conversation_id: str) -> str:
    if not _ID.match(conversation_id):
        shown = conversation_id if len(conversation_id) <= 40 else conversation_id[:40] + "…"
        raise BadInputError(f"conversation id must be 32 lower-case hex characters, got {shown!r}")
    return conversation_id


def _read(state: AppState, owner: str, conversation_id: str) -> dict[str, Any]:
    conv = _log(state).read(owner, _checked(conversation_id))
    if conv is None:
        raise NotFoundError(f"no conversation {conversation_id} for this caller")
    return conv


@router.get("/v1/conversations", response_model=ConversationList, responses=ERRORS)
def list_conversations(
    state: AppStateDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Conversations per page.")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page.")
    ] = None,
) -> dict[str, Any]:
    """The caller's conversations, last continued first, a page at a time."""
    return _log(state).page(owner, limit, cursor)


@router.get(
    "/v1/conversations/{conversation_id}", response_model=ConversationDetail, responses=ERRORS
)
def read_conversation(conversation_id: str, state: AppStateDep, owner: OwnerDep) -> dict[str, Any]:
    """One of the caller's conversations: every question and answer, with citations."""
    return _read(state, owner, conversation_id)


@router.get(
    "/v1/conversations/{conversation_id}/export",
    responses={**ERRORS, 200: {"content": {"text/markdown": {}}}},
)
def export_conversation(
    conversation_id: str,
    state: AppStateDep,
    owner: OwnerDep,
    format: Annotated[Literal["markdown"], Query(description="Only markdown.")] = "markdown",
) -> Response:
    """The conversation as a Markdown file: questions, answers and their numbered sources."""
    conv = _read(state, owner, conversation_id)
    return Response(
        conversation_markdown(conv),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="conversation-{conv["id"]}.md"'},
    )


@router.delete("/v1/conversations/{conversation_id}", status_code=204, responses=ERRORS)
def delete_conversation(conversation_id: str, state: AppStateDep, owner: OwnerDep) -> Response:
    """Delete one of the caller's conversations and its turns; it can no longer continue."""
    if not _log(state).delete(owner, _checked(conversation_id)):
        raise NotFoundError(f"no conversation {conversation_id} for this caller")
    state.assistant.conversations.forget(owner, conversation_id)
    return Response(status_code=204)
