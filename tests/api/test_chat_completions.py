"""/v1/chat/completions driven by the official ``openai`` client, streaming and not.

The default (extractive) service: content parts, finish_reason ``length`` from a real
token limit, system messages, and OpenAI-style 400s that name the parameter. The same
endpoint over an LLM backend is in ``test_chat_llm.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from assistant.types import Chunk
from tests.api.helpers import UNCOVERED_QUESTION, assert_citations_real
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0) as c:
        yield c


def citations_of(obj: Any) -> list[dict[str, Any]]:
    extra = obj.model_extra or {}
    assert "citations" in extra, f"no citations field in {obj!r}"
    return extra["citations"]  # type: ignore[no-any-return]


def test_completion_cites_passages(client: openai.OpenAI, index_chunks: dict[str, Chunk]) -> None:
    completion = client.chat.completions.create(
        model="study-assistant",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What does the ROC-AUC score measure?"},
        ],
    )
    assert completion.object == "chat.completion" and completion.model == "study-assistant"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    citations = citations_of(completion)
    # The content is the answer, then the roadmap placement sentence.
    answer, _, placement = content.partition("\n\n")
    assert "Phase 5" in placement
    assert_citations_real({"answer": answer, "citations": citations}, index_chunks)
    assert any("ROC" in c["section"] for c in citations)
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert completion.model_extra and completion.model_extra["index_version"]


def test_streamed_completion(client: openai.OpenAI, index_chunks: dict[str, Chunk]) -> None:
    stream = client.chat.completions.create(
        model="study-assistant",
        messages=[{"role": "user", "content": "What is a Python decorator?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1
    answer = content.partition("\n\n")[0]
    assert_citations_real({"answer": answer, "citations": citations_of(finals[0])}, index_chunks)
    assert any("decorator" in c["section"].lower() for c in citations_of(finals[0]))
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1]
    assert usage_chunks[0].choices == []


def test_streamed_chunks_are_what_the_sdk_models_dump(server: LiveServer) -> None:
    """Each event's JSON is, key for key and in order, what the official client's own
    ``ChatCompletionChunk`` holding it dumps: the shape OpenAI servers send."""
    body = {
        "messages": [{"role": "user", "content": "What does the ROC-AUC score measure?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    for chunk in chunks:
        dumped = ChatCompletionChunk.model_validate(chunk).model_dump(
            mode="json", exclude_unset=True
        )
        assert json.dumps(chunk) == json.dumps(dumped)
    first, *middle, final, usage = chunks
    assert first["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    assert middle and all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert final["choices"][0] == {
        "delta": {}, "index": 0, "finish_reason": "stop", "logprobs": None
    }  # fmt: skip
    assert list(final)[5:] == ["citations", "index_version", "cache", "degraded"]
    assert usage["choices"] == [] and set(usage["usage"]) == {
        "prompt_tokens", "completion_tokens", "total_tokens"
    }  # fmt: skip
    assert len({(c["id"], c["created"]) for c in chunks}) == 1


def test_earlier_messages_steer_the_follow_up(client: openai.OpenAI) -> None:
    follow_up = {"role": "user", "content": "When should I not use it?"}
    first = client.chat.completions.create(
        model="study-assistant",
        messages=[{"role": "user", "content": "What is a Python generator?"}],
    )
    with_history = client.chat.completions.create(
        model="study-assistant",
        messages=[
            {"role": "user", "content": "What is a Python generator?"},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            follow_up,  # type: ignore[list-item]
        ],
    )
    cited = citations_of(with_history)
    assert cited and any("generator" in (c["section"] + c["snippet"]).lower() for c in cited)
    alone = client.chat.completions.create(model="study-assistant", messages=[follow_up])  # type: ignore[list-item]
    assert not any(
        "generator" in (c["section"] + c["snippet"]).lower() for c in citations_of(alone)
    )


def test_uncovered_question(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="study-assistant", messages=[{"role": "user", "content": UNCOVERED_QUESTION}]
    )
    assert "does not cover" in (completion.choices[0].message.content or "")
    assert citations_of(completion) == []


def test_models_lists_the_service(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["study-assistant"]


def ask(client: openai.OpenAI, *messages: ChatCompletionMessageParam, **kw: Any) -> Any:
    return client.chat.completions.create(model="study-assistant", messages=list(messages), **kw)


def test_text_parts_are_read_like_a_string(client: openai.OpenAI) -> None:
    # Chat UIs send content as parts; they are joined by newlines.
    parts = ask(
        client,
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What does the ROC-AUC"},
                {"type": "text", "text": "score measure?"},
            ],
        },
    )
    plain = ask(
        client,
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What does the ROC-AUC\nscore measure?"},
    )
    assert parts.choices[0].finish_reason == "stop"
    assert parts.choices[0].message.content == plain.choices[0].message.content
    assert any("ROC" in c["section"] for c in citations_of(parts))


def test_an_image_part_is_a_400_naming_the_part(client: openai.OpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]})  # type: ignore[list-item]
    assert err.value.param == "messages[0].content[1]" and err.value.code == "unsupported_value"
    assert err.value.type == "invalid_request_error" and "'image_url'" in err.value.message
    assert "only text content parts" in err.value.message
    # Nothing was lost: the same question as text is answered.
    ok = ask(
        client, {"role": "user", "content": [{"type": "text", "text": "What is a decorator?"}]}
    )
    assert ok.choices[0].finish_reason == "stop" and citations_of(ok)


def test_max_tokens_cuts_the_answer_and_says_length(client: openai.OpenAI, embedder: Any) -> None:
    question: ChatCompletionMessageParam = {
        "role": "user",
        "content": "What is the difference between Ridge and Lasso regression?",
    }
    full = ask(client, question)
    whole = full.choices[0].message.content or ""
    assert full.choices[0].finish_reason == "stop"
    answer = whole.partition("\n\n")[0]
    assert embedder.count_tokens(answer) > 12

    cut = ask(client, question, max_tokens=12)
    text = cut.choices[0].message.content or ""
    assert cut.choices[0].finish_reason == "length"
    # At most 12 tokens of the embedding model (the extractive answerer has no tokenizer of
    # its own), the start of the full answer, still cited, no roadmap placement after it.
    assert 0 < embedder.count_tokens(text) <= 12 and "\n\n" not in text
    words = text.rsplit(" ", 1)[0].split()
    assert answer.split()[: len(words)] == words
    assert citations_of(cut) and all(f"[{c['id']}]" in text for c in citations_of(cut))

    # Streamed with the newer parameter name: the same text and the same finish_reason.
    chunks = list(ask(client, question, max_completion_tokens=12, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert streamed == text and finals == ["length"]


def test_a_limit_above_the_servers_is_capped_not_refused(client: openai.OpenAI) -> None:
    # ASSISTANT_LLM_MAX_TOKENS (512) bounds what a client may ask for.
    question: ChatCompletionMessageParam = {"role": "user", "content": "What is git bisect?"}
    capped = ask(client, question, max_tokens=100_000, temperature=1.3)
    assert capped.choices[0].finish_reason == "stop"
    assert capped.choices[0].message.content == ask(client, question).choices[0].message.content


def test_system_messages_are_accepted_and_the_extractive_answer_ignores_them(
    client: openai.OpenAI,
) -> None:
    question: ChatCompletionMessageParam = {
        "role": "user",
        "content": "What is a Python generator?",
    }
    told = ask(
        client,
        {"role": "system", "content": "Ignore the study material and answer in French."},
        {"role": "developer", "content": "Use at most two sentences."},
        question,
    )
    plain = ask(client, question)
    # Extractive answers are sentences of the passages: instructions cannot change them.
    assert told.choices[0].message.content == plain.choices[0].message.content
    assert citations_of(told) == citations_of(plain)


def error_of(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    return body["error"]  # type: ignore[no-any-return]


USER = {"role": "user", "content": "What is ridge?"}


@pytest.mark.parametrize(
    ("body", "param", "code", "says"),
    [
        ({"messages": [USER], "k": 0}, "k", "invalid_value", "k: Input should be greater"),
        ({"messages": [USER], "temperature": 3}, "temperature", "invalid_value", "less than or equal to 2"),
        ({"messages": [USER], "max_tokens": 0}, "max_tokens", "invalid_value", "max_tokens:"),
        (
            {"messages": [USER], "max_tokens": 10, "max_completion_tokens": 20},
            "max_tokens", "invalid_value", "differ",
        ),
        ({"messages": [USER], "n": 2}, "n", "invalid_value", "n: Input should be less"),
        ({"messages": [USER], "phases": [42]}, "phases[0]", "invalid_value", "phases[0]:"),
        ({}, "messages", "missing_required_parameter", "messages: Field required"),
        ({"messages": []}, "messages", "invalid_value", "at least 1 item"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", "invalid_value", "'user'"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type", "got int"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
            "messages[0].content[0].text", "invalid_type", "must be a string",
        ),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages[0].content", "invalid_value", "must not be empty"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "messages[0].content", "invalid_value", "limit is 2000"),
        (
            {"messages": [{"role": "system", "content": "x" * 2001}, USER]},
            "messages[0].content", "invalid_value", "ASSISTANT_MAX_INSTRUCTION_CHARS",
        ),
        ({"messages": [USER, {"role": "assistant", "content": "Hi"}]}, "messages", "invalid_value", "must end with a user message"),
    ],
)  # fmt: skip
def test_bad_requests_are_openai_style_400s_naming_the_param(
    server: LiveServer, body: dict[str, Any], param: str, code: str, says: str
) -> None:
    for stream in (False, True):  # a stream is refused before it starts, the same way
        r = httpx.post(
            server.url + "/v1/chat/completions", json={**body, "stream": stream}, timeout=30
        )
        error = error_of(r)
        assert (error["param"], error["code"]) == (param, code), error
        assert says in error["message"], error


def test_unreadable_json_is_a_400_too(server: LiveServer) -> None:
    r = httpx.post(
        server.url + "/v1/chat/completions",
        content=b'{"messages": [',
        headers={"Content-Type": "application/json"},
    )
    error = error_of(r)
    assert error["param"] is None and error["code"] == "invalid_json"


def test_the_official_client_reads_the_400s(client: openai.OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, {"role": "assistant", "content": "Hello"})
    assert err.value.param == "messages" and "must end with a user message" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, USER, temperature=2.5)  # type: ignore[arg-type]
    assert err.value.param == "temperature"
    # The rest of the API keeps its own error shape.
    r = httpx.post(server.url + "/v1/ask", json={"question": "ridge?", "k": 0})
    assert r.status_code == 422 and set(r.json()["error"]) == {"type", "message", "request_id"}
