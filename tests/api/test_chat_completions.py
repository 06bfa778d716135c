"""/v1/chat/completions driven by the official ``openai`` client, streaming and not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

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


def test_bad_requests_get_openai_style_errors(client: openai.OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        client.chat.completions.create(
            model="study-assistant", messages=[{"role": "assistant", "content": "Hello"}]
        )
    assert "must end with a user message" in str(exc.value)
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        client.chat.completions.create(model="study-assistant", messages=[])
    assert "messages" in str(exc.value)
    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], "k": 0},
        timeout=10,
    )
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("k:")
