"""Isolation over real HTTP (issue 11, items 1 and 2): conversations belong to the key that
started them, and cache keys never confuse filters or conversations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.fakes.openai_server import OpenAIServer, Reply

KEY_A, KEY_B = "isolation-key-a", "isolation-key-b"
# Words that occur nowhere in the corpus, to see whose turns reach the model.
MARK_A, MARK_B = "zanzibar", "quokka"


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[OpenAIServer]:
    with OpenAIServer(model="fake-gpt") as srv:
        yield srv


@pytest.fixture(scope="module")
def llm_server(fake_llm, corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("isolation-llm")
    settings = make_settings(
        corpus_index,
        tmp,
        api_keys=[KEY_A, KEY_B],
        llm_backend="openai",
        llm_model="fake-gpt",
        llm_base_url=fake_llm.url,
        llm_timeout_s=5,
        semantic_cache=False,
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


@pytest.fixture(scope="module")
def extractive_server(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("isolation-extractive")
    with LiveServer(make_settings(corpus_index, tmp, semantic_cache=True), embedder) as srv:
        yield srv


def ask(srv: LiveServer, key: str | None = None, **body: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(srv.url + "/v1/ask", json=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def sent_since(llm: OpenAIServer, n: int) -> str:
    """Every message the model received after its first ``n`` requests, as one text."""
    return json.dumps([r.body["messages"] for r in llm.completions[n:]])


def test_a_foreign_conversation_id_starts_a_new_conversation(
    llm_server: LiveServer, fake_llm: OpenAIServer
) -> None:
    fake_llm.default = Reply.ok()
    first = ask(llm_server, KEY_A, question=f"What is Lasso regression, {MARK_A}?")
    conv_a = first["conversation_id"]

    assert MARK_A in sent_since(fake_llm, 0)

    # Key B presents key A's id: a new conversation, without A's turns anywhere.
    n = len(fake_llm.completions)
    other = ask(
        llm_server, KEY_B, question=f"When should I not use it, {MARK_B}?", conversation_id=conv_a
    )
    assert other["conversation_id"] != conv_a
    assert MARK_A not in sent_since(fake_llm, n)

    # Key A continues its own thread, which holds only its own turns.
    n = len(fake_llm.completions)
    follow = ask(llm_server, KEY_A, question="When should I not use it?", conversation_id=conv_a)
    assert follow["conversation_id"] == conv_a
    seen = sent_since(fake_llm, n)
    assert MARK_A in seen and MARK_B not in seen


def test_an_unknown_conversation_id_is_not_adopted(llm_server: LiveServer) -> None:
    body = ask(llm_server, KEY_B, question="What is a Dockerfile?", conversation_id="my-own-id")
    assert body["conversation_id"] != "my-own-id"
    again = ask(
        llm_server, KEY_B, question="What is it for?", conversation_id=body["conversation_id"]
    )
    assert again["conversation_id"] == body["conversation_id"]


def test_answers_built_on_history_are_not_served_to_another_conversation(
    llm_server: LiveServer, fake_llm: OpenAIServer
) -> None:
    fake_llm.default = Reply.ok()
    question = "Give me an example of it."
    one = [
        {"role": "user", "content": "What is Ridge regression?"},
        {"role": "assistant", "content": "Ridge adds an L2 penalty [1]."},
    ]
    two = [one[0], {"role": "assistant", "content": "A different earlier answer [1]."}]
    first = ask(llm_server, KEY_A, question=question, history=one)
    assert first["cache"] == "miss"
    again = ask(llm_server, KEY_A, question=question, history=one)
    assert again["cache"] == "hit"  # the same conversation may reuse it
    other = ask(llm_server, KEY_A, question=question, history=two)
    assert other["cache"] == "miss"


def test_filters_are_part_of_the_cache_key_without_ambiguity(
    extractive_server: LiveServer,
) -> None:
    question = "How do I avoid overfitting?"
    a, b = "notes/phase-5-core-ml.md", "notes/phase-6-deep-learning.md"
    both = ask(extractive_server, question=question, sources=[a, b])
    assert both["cache"] == "miss" and both["citations"]
    assert ask(extractive_server, question=question, sources=[b, a])["cache"] == "hit"
    # One source whose name holds a comma is another filter: it matches nothing.
    joined = ask(extractive_server, question=question, sources=[f"{a},{b}"])
    assert joined["cache"] == "miss" and joined["citations"] == []
