"""POST /v1/chat/completions and GET /v1/models: OpenAI-compatible, streaming and not.

The last user message is the question; earlier user/assistant messages are the
conversation; system messages are instructions fenced after the service's own rules
(``chat_input``). A completion is the official ``openai`` type; streamed chunks are dicts
of the same shape (``_stream``). Citations travel as
an extra top-level ``citations`` field (OpenAI clients keep unknown fields), and the
answer text cites them as [n]. ``finish_reason`` is the generator's: ``length`` when
the answer stopped at the token limit (then no roadmap placement follows it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from openai.types import CompletionUsage, Model
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice

from api.deps import AppStateDep, ClientDep, RequestIdDep
from api.errors import status_for
from api.routes.chat_errors import InvalidRequestError, OpenAIErrorResponse, OpenAIRoute
from api.routes.chat_input import ChatInput, read_messages
from api.routes.sse import SSE_DONE, SSE_HEADERS, sse_data
from api.schemas import ChatCompletionRequest, ErrorResponse
from assistant.errors import AssistantError, BadInputError
from assistant.service import AskOptions, StudyAssistant
from assistant.types import Answer, Delta, Done

router = APIRouter(tags=["openai"], route_class=OpenAIRoute)
MODEL_ID = "study-assistant"
FinishReason = Literal["stop", "length", "content_filter"]


def _finish(answer: Answer) -> FinishReason:
    reason = answer.finish_reason
    return reason if reason in ("length", "content_filter") else "stop"  # type: ignore[return-value]


def _content(answer: Answer) -> str:
    """The answer, then where it sits in the roadmap, unless the token limit cut it."""
    if answer.roadmap and answer.finish_reason != "length":
        return f"{answer.answer}\n\n{answer.roadmap}"
    return answer.answer


def _usage(answer: Answer) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"completion_tokens": c, "prompt_tokens": p, "total_tokens": p + c}


def _completion(answer: Answer, created: int) -> dict[str, Any]:
    message = ChatCompletionMessage(role="assistant", content=_content(answer))
    choice = Choice(index=0, message=message, finish_reason=_finish(answer), logprobs=None)
    completion = ChatCompletion(
        id=f"chatcmpl-{answer.request_id}",
        object="chat.completion",
        created=created,
        model=MODEL_ID,
        choices=[choice],
        usage=CompletionUsage(**_usage(answer)),
        citations=[c.to_json() for c in answer.citations],  # extra fields: kept by clients
        index_version=answer.index_version,
        cache=answer.cache,
        degraded=answer.degraded,
    )
    return completion.model_dump(mode="json", exclude_unset=True)


def _stream(
    assistant: StudyAssistant, question: str, opts: AskOptions, include_usage: bool
) -> Iterator[bytes]:
    """chat.completion.chunk events, then [DONE]; an error after the 200 is an error event.

    Chunks are plain dicts on one template, in the key order of the SDK's own
    ``ChatCompletionChunk.model_dump(exclude_unset=True)`` (tests compare the two), encoded
    by orjson: no pydantic model per streamed delta.
    """
    head = {
        "id": f"chatcmpl-{opts.request_id}",
        "choices": [],
        "created": int(time.time()),
        "model": MODEL_ID,
        "object": "chat.completion.chunk",
    }

    def chunk(delta: dict[str, str], finish: FinishReason | None = None, **extra: Any) -> bytes:
        choice = {"delta": delta, "index": 0, "finish_reason": finish, "logprobs": None}
        return sse_data({**head, "choices": [choice], **extra})

    try:
        yield chunk({"content": "", "role": "assistant"})
        for event in assistant.ask_events(question, opts):
            if isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                answer = event.answer
                if tail := _content(answer)[len(answer.answer) :]:
                    yield chunk({"content": tail})
                citations = [c.to_json() for c in answer.citations]
                yield chunk(
                    {}, _finish(answer), citations=citations, index_version=answer.index_version,
                    cache=answer.cache, degraded=answer.degraded,
                )  # fmt: skip
                if include_usage:
                    yield sse_data({**head, "usage": _usage(answer)})  # "choices": []
    except AssistantError as exc:  # after the 200; before it, errors are statuses (OpenAIRoute)
        status, type_ = status_for(exc)
        error = {"message": str(exc), "type": type_, "param": None, "code": status}
        yield sse_data({"error": error})
    yield SSE_DONE


def _max_tokens(body: ChatCompletionRequest) -> int | None:
    legacy, current = body.max_tokens, body.max_completion_tokens
    if legacy is not None and current is not None and legacy != current:
        raise InvalidRequestError(
            f"max_tokens ({legacy}) and max_completion_tokens ({current}) differ: send one",
            "max_tokens",
        )
    return current if current is not None else legacy


def _checked(assistant: StudyAssistant, chat: ChatInput, k: int) -> str:
    try:
        return assistant.validate(chat.question, "question", k)
    except BadInputError as exc:
        raise InvalidRequestError(f"{chat.question_param}: {exc}", chat.question_param) from exc


@router.post(
    "/v1/chat/completions",
    responses={
        200: {
            "model": ChatCompletion,
            "content": {"text/event-stream": {}},
            "description": "A chat.completion, or chat.completion.chunk events with stream=true",
        },
        400: {"model": OpenAIErrorResponse, "description": "Invalid request (names the param)"},
        422: {"model": ErrorResponse, "description": "Not sent here: invalid requests are 400s"},
    },
)
def create_chat_completion(  # type: ignore[no-untyped-def]
    body: ChatCompletionRequest,
    state: AppStateDep,
    client: ClientDep,
    request_id: RequestIdDep,
):
    """OpenAI-compatible chat completion answered from the study corpus."""
    assistant = state.assistant
    chat = read_messages(body.messages, state.settings.max_instruction_chars)
    question = _checked(assistant, chat, body.k)
    opts = AskOptions(
        k=body.k,
        phases=body.phases,
        history=chat.history,
        key_id=client.key_id,
        endpoint="chat",
        request_id=request_id,
        max_tokens=_max_tokens(body),
        temperature=body.temperature,
        instructions=chat.instructions,
    )
    if body.stream:
        _ = assistant.snapshot  # no index: a 503 now, not a 200 followed by an error event
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _stream(assistant, question, opts, include_usage),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    return _completion(assistant.ask(question, opts), int(time.time()))


@router.get("/v1/models")
def list_models(client: ClientDep) -> dict[str, Any]:
    """The one model this service offers, for OpenAI-compatible chat UIs."""
    model = Model(id=MODEL_ID, object="model", created=0, owned_by="study-assistant")
    return {"object": "list", "data": [model.model_dump(mode="json")]}
