"""POST /v1/chat/completions and GET /v1/models: OpenAI-compatible, streaming and not.

The last user message is the question; earlier messages are the conversation.
Citations travel as an extra top-level ``citations`` field (OpenAI clients keep
unknown fields), and the answer text cites them as [n].
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import AssistantDep, ClientDep
from api.errors import status_for
from api.routes.sse import SSE_HEADERS, sse
from api.schemas import ChatCompletionRequest
from assistant.errors import AssistantError, BadInputError
from assistant.service import AskOptions, AskResult, StudyAssistant

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


def _completion(result: AskResult, created: int) -> dict[str, Any]:
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
        "citations": result.citations,
        "index_version": result.index_version,
        "cache": result.cache,
        "degraded": result.degraded,
    }


def _content(result: AskResult) -> str:
    return result.answer + (f"\n\n{result.roadmap}" if result.roadmap else "")


def _usage(result: AskResult) -> dict[str, int]:
    p, c = result.usage["prompt_tokens"], result.usage["completion_tokens"]
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
        for event, payload in assistant.ask_events(question, opts):
            if event == "delta":
                yield chunk({"content": payload})
            elif event == "done":
                tail = f"\n\n{payload.roadmap}" if payload.roadmap else ""
                if tail:
                    yield chunk({"content": tail})
                yield chunk(
                    {}, "stop", citations=payload.citations, index_version=payload.index_version
                )
                if include_usage:
                    yield sse(
                        None,
                        {
                            "id": cid,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": MODEL_ID,
                            "choices": [],
                            "usage": _usage(payload),
                        },
                    )
    except AssistantError as exc:
        status, type_ = status_for(exc)
        yield sse(None, {"error": {"message": str(exc), "type": type_, "code": status}})
    yield sse(None, "[DONE]")


@router.post("/v1/chat/completions")
def create_chat_completion(
    body: ChatCompletionRequest, request: Request, assistant: AssistantDep, client: ClientDep
):  # type: ignore[no-untyped-def]
    """OpenAI-compatible chat completion answered from the study corpus."""
    question, history = _split(body)
    opts = AskOptions(
        k=body.k,
        phases=body.phases,
        history=history,
        key_id=client.key_id,
        endpoint="chat",
        request_id=request.scope.get("state", {}).get("request_id"),
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
