"""`HotAnswerMiddleware`: a repeated first question answered before FastAPI routes it.

A cached answer needs no dependency injection, no worker thread and no validation
pass of the response; routing and those cost several times what the answer itself
does (py-spy, ``bench/http_load.py``). For ``POST /v1/ask`` this middleware reads the
body, and when the question is one this process holds the answer to
(``assistant.hot_path.answer_at_once``), the caller's key and rate limit are checked
without I/O (``api.deps.client_at_once``, ``admit_at_once``: counted once, and only when
answered here) and its conversation owner is known without a query (``owner_at_once``),
it answers at once, as JSON or, with ``stream: true``, as the three events the route
sends for a hit (meta, one delta, done). In every other case, including every error,
the request goes on to the route with its body intact, and the route decides and words
the outcome exactly as before: the hot path only ever answers 200.

It sits inside ``RequestContextMiddleware`` (request id, body limit, metrics) and CORS.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppState, admit_at_once, client_at_once
from api.fastjson import FastJSONResponse
from api.routes.ask import options_for
from api.routes.coach import asked_by, count_for
from api.routes.conversations import Undecided, owner_at_once
from api.routes.sse import SSE_HEADERS, sse
from api.schemas import AskRequest
from assistant.errors import AssistantError
from assistant.hot_path import HotAnswer, answer_at_once
from assistant.types import Answer

logger = logging.getLogger(__name__)

PATH = "/v1/ask"


class HotAnswerMiddleware:
    """Serves ``POST /v1/ask`` from the hot answers when nothing else is needed."""

    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route  # the /v1/ask APIRoute: what the metrics label the answer with

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if not disconnected and _json_body(scope):
            response = await self._answer(scope, body)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(body, disconnected, receive), send)

    async def _answer(self, scope: Scope, raw: bytes) -> Response | None:
        state: AppState | None = getattr(scope["app"].state, "assistant_state", None)
        if state is None:
            return None
        try:
            body = AskRequest.model_validate_json(raw)
        except ValidationError:
            return None  # the route says what is wrong (422)
        request = Request(scope)
        client = client_at_once(state, request)
        if client is None:
            return None
        owner = owner_at_once(state, request, client)
        if isinstance(owner, Undecided):
            return None
        rid = scope.get("state", {}).get("request_id")
        opts = options_for(body, str(rid) if rid else None, client.key_id, owner)
        try:
            hot = answer_at_once(state.assistant, body.question, opts)
        except AssistantError:
            return None  # bad input or no index: the route raises it again and words it
        if hot is None or not admit_at_once(state, client):
            return None  # counted only when served: the route counts the others once
        answer = await _settle(state, hot)
        # No query here: owner_at_once found the learner id already.
        learner = asked_by(state, request, client.key_id, answer)
        if learner is not None and state.coach is not None:  # a write: off the event loop
            await run_in_threadpool(count_for, state.coach, learner, answer)
        scope["route"] = self.route
        if body.stream:  # the events the route would send for a hit: meta, one delta, done
            events = (
                sse("meta", hot.meta.to_json())
                + sse("delta", {"text": answer.answer})
                + sse("done", answer.to_json())
            )
            return Response(events, media_type="text/event-stream", headers=SSE_HEADERS)
        return FastJSONResponse(answer.to_json())


async def _settle(state: AppState, hot: HotAnswer) -> Answer:
    """Commit the turn's cache writes (a follow-up must find it), then record the cost."""
    committed = state.assistant.cache.submit(hot.writes)
    if not committed.done():
        await asyncio.wrap_future(committed)
    return hot.settle(stored=state.assistant.answers.healthy)


def _json_body(scope: Scope) -> bool:
    """Whether the route would read the body as JSON (FastAPI: no Content-Type, or
    ``application/json`` / ``application/*+json``); anything else is its 422, and a
    ``text/plain`` post, which a browser sends cross-site without asking, is never answered
    here."""
    value = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    if value is None:
        return True
    kind = value.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away while it was read."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A receive that gives the body read already, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
