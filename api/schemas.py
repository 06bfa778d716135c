"""Request and response models of the HTTP API (they drive validation and the OpenAPI document).

The answer's response models are built from the core's dataclasses (``assistant.types``:
``Citation``, ``Usage``, ``Answer``), so the answer has one shape everywhere: the
service, the stream's ``done`` event, the cache entry and this document.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from assistant import types

QUESTION_EXAMPLE = "When should I use Lasso instead of Ridge?"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | None = Field(default="", max_length=20_000)


# Filters are bounded so one request cannot make a search expensive (issue 11, item 5).
MAX_SOURCES = 50
PhaseList = Annotated[
    list[Annotated[int, Field(ge=1, le=9)]] | None,
    Field(None, max_length=9, description="Only material of these roadmap phases (1-9)."),
]
SourceList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=500)]] | None,
    Field(
        None,
        max_length=MAX_SOURCES,
        description=f"Only these sources (paths/URLs or folder prefixes), at most {MAX_SOURCES}.",
    ),
]


class Filters(BaseModel):
    k: int = Field(5, ge=1, le=50, description="Passages to retrieve.")
    phases: PhaseList = None
    sources: SourceList = None


class SearchRequest(Filters):
    model_config = ConfigDict(json_schema_extra={"examples": [{"query": "ridge vs lasso", "k": 5}]})
    query: str = Field(..., min_length=1, description="What to look for.")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class SearchResult(BaseModel):
    chunk_id: str
    text: str
    source: str
    title: str
    section: str
    url: str | None
    phases: list[int]
    score: float


class SearchResponse(BaseModel):
    results: list[SearchResult]
    index_version: str


class AskRequest(Filters):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": QUESTION_EXAMPLE},
                {"question": "and when is it a bad idea?", "conversation_id": "3f1c..."},
            ]
        }
    )
    question: str = Field(..., min_length=1, description="The learner's question.")
    stream: bool = Field(False, description="Send server-sent events: meta, delta*, done.")
    history: list[ChatMessage] = Field(
        default_factory=list, max_length=50, description="Earlier turns."
    )
    conversation_id: str | None = Field(
        None, max_length=64, description="Continue a stored conversation."
    )


def model_of(
    cls: type[Any],
    name: str,
    *,
    exclude: frozenset[str] = frozenset(),
    types_: dict[str, Any] | None = None,
    descriptions: dict[str, str] | None = None,
) -> type[BaseModel]:
    """A pydantic model with the fields of dataclass ``cls`` (same names, types, defaults)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        default: Any = ...
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        kind = (types_ or {}).get(f.name, hints[f.name])
        info = Field(default, description=(descriptions or {}).get(f.name))
        fields[f.name] = (kind, info)
    return create_model(name, __doc__=cls.__doc__, **fields)


Citation = model_of(types.Citation, "Citation")
UsageOut = model_of(
    types.Usage,
    "UsageOut",
    descriptions={"exact": "False when token counts are estimates."},
)
AskResponse = model_of(
    types.Answer,
    "AskResponse",
    exclude=frozenset({"passage_ids"}),  # internal: what the cache entry depends on
    types_={"citations": list[Citation], "usage": UsageOut},  # type: ignore[valid-type]
    descriptions={"roadmap": "Where the topic sits in the roadmap."},
)


MAX_CONTENT_CHARS = 20_000  # characters of one chat message's text
_TEXT_PARTS = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                "required": ["type", "text"],
            },
        },
        {"type": "null"},
    ]
}


class ChatCompletionMessageParam(BaseModel):
    """One chat message; ``content`` is a string or a list of text parts (checked in the route)."""

    model_config = ConfigDict(extra="allow")  # name, tool_calls...: read by nobody here
    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[Any, WithJsonSchema(_TEXT_PARTS)] = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI chat completions; extra fields (k, phases) narrow retrieval.

    ``max_tokens`` / ``max_completion_tokens`` are capped at ASSISTANT_LLM_MAX_TOKENS;
    ``temperature`` reaches LLM backends (the extractive answerer is deterministic).
    """

    model_config = ConfigDict(extra="allow")
    model: str = "study-assistant"
    messages: list[ChatCompletionMessageParam] = Field(..., min_length=1, max_length=50)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Choices per request: only 1.")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, description="Same as max_completion_tokens.")
    max_completion_tokens: int | None = Field(None, ge=1)
    k: int = Field(5, ge=1, le=50)
    phases: PhaseList = None


class ErrorBody(BaseModel):
    type: str
    message: str
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
