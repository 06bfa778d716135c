"""POST /v1/chat/completions and GET /v1/models: OpenAI-compatible, streaming and not.

The last user message is the question; earlier messages are the conversation.
Citations travel as an extra top-level ``citations`` field (OpenAI clients keep
unknown fields), and the answer text cites them as [n].
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import AssistantDep, ClientDep, RequestIdDep
from api.errors import status_for
from api.routes.sse import SSE_HEADERS, sse
from api.schemas import ChatCompletionRequest
from assistant.errors import AssistantError, BadInputError
from assistant.service import AskOptions, StudyAssistant
from assistant.types import Answer, Delta, Done

router = APIRouter(tags=["openai"])
MODEL_ID = "study-assistant"


def _split(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    turns = [
        {"role": m.role, "content": m.content or ""}
        for m in body.messages
        if m.role in ("user", "assistant")
    ]
    if not turns or turns[-1]["role"] != "user":
        raise BadInputError("messages must end with a user message (the question)")
    return turns[-1]["content"], turns[:-1]


def _completion(result: Answer, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _content(result)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(result),
        "citations": [c.to_json() for c in result.citations],
        "index_version": result.index_version,
        "cache": result.cache,
        "degraded": result.degraded,
    }


def _content(result: Answer) -> str:
    return result.answer + (f"\n\n{result.roadmap}" if result.roadmap else "")


def _usage(result: Answer) -> dict[str, int]:
    p, c = result.usage.prompt_tokens, result.usage.completion_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _stream(
    assistant: StudyAssistant, question: str, opts: AskOptions, include_usage: bool
) -> Iterator[str]:
    created = int(time.time())
    cid = f"chatcmpl-{opts.request_id}"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse(
            None,
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
                **extra,
            },
        )

    try:
        yield chunk({"role": "assistant", "content": ""})
        for event in assistant.ask_events(question, opts):
            if isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                answer = event.answer
                if answer.roadmap:
                    yield chunk({"content": f"\n\n{answer.roadmap}"})
                citations = [c.to_json() for c in answer.citations]
                yield chunk({}, "stop", citations=citations, index_version=answer.index_version)
                if include_usage:
                    yield sse(
                        None,
                        {
                            "id": cid,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": MODEL_ID,
                            "choices": [],
                            "usage": _usage(answer),
                        },
                    )
    except AssistantError as exc:
        status, type_ = status_for(exc)
        yield sse(None, {"error": {"message": str(exc), "type": type_, "code": status}})
    yield sse(None, "[DONE]")


@router.post("/v1/chat/completions")
def create_chat_completion(  # type: ignore[no-untyped-def]
    body: ChatCompletionRequest,
    assistant: AssistantDep,
    client: ClientDep,
    request_id: RequestIdDep,
):
    """OpenAI-compatible chat completion answered from the study corpus."""
    question, history = _split(body)
    opts = AskOptions(
        k=body.k,
        phases=body.phases,
        history=history,
        key_id=client.key_id,
        endpoint="chat",
        request_id=request_id,
    )
    if body.stream:
        assistant.validate(question, "question", body.k)
        _ = assistant.snapshot  # no index: a 503 now, not a 200 followed by an error event
        extra = body.model_extra or {}
        include_usage = bool((extra.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _stream(assistant, question, opts, include_usage),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    return _completion(assistant.ask(question, opts), int(time.time()))


@router.get("/v1/models")
def list_models(client: ClientDep) -> dict[str, Any]:
    """The one model this service offers, for OpenAI-compatible chat UIs."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "study-assistant"}],
    }
