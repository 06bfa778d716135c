"""The one answer shape: Answer, Citation, Usage, the stream events, and the API models."""

from __future__ import annotations

import dataclasses

import pytest

from api.schemas import AskResponse, UsageOut
from api.schemas import Citation as CitationModel
from assistant.turn_keeper import settled
from assistant.types import Answer, Chunk, Citation, Delta, Done, Meta, Usage


def chunk(n: int) -> Chunk:
    return Chunk(
        f"c{n}", "notes/x.md", "X", f"X > S{n}", "Ridge adds an L2 penalty. " * 20, None, (5,), "h"
    )


def answer() -> Answer:
    return Answer(
        answer="Ridge adds an L2 penalty [1].",
        citations=[Citation.of(1, chunk(1), 0.8123456789)],
        usage=Usage(12, 3, True, 0.0042),
        cache="miss",
        backend="openai",
        model="fake-gpt",
        index_version="v1",
        latency_ms=12.3456,
        degraded=False,
        request_id="r1",
        conversation_id="c1",
        roadmap="In the roadmap this is Phase 5.",
        passage_ids=["c1", "c2"],
    )


def test_citation_of_a_chunk() -> None:
    c = Citation.of(2, chunk(1), 0.123456789)
    assert (c.id, c.chunk_id, c.section, c.score, c.phases) == (2, "c1", "X > S1", 0.123457, [5])
    assert c.snippet == chunk(1).text[:280] and len(c.snippet) == 280


def test_answer_json_round_trip_and_cache_entry() -> None:
    a = answer()
    body = a.to_json()
    assert "passage_ids" not in body and body["latency_ms"] == 12.35
    assert body["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "exact": True,
        "cost_usd": 0.0042,
    }
    assert body["citations"][0]["chunk_id"] == "c1"
    back = Answer.from_json(a.to_cache_json())
    assert back.passage_ids == ["c1", "c2"] and back.citations == a.citations
    assert back.usage == a.usage and back.answer == a.answer
    with pytest.raises(KeyError):
        Answer.from_json({"answer": "x"})


def test_reused_answer_bills_nothing_and_takes_the_request_ids() -> None:
    again = answer().reused(
        "semantic",
        request_id="r2",
        conversation_id="c2",
        index_version="v2",
        latency_ms=1.0,
    )
    assert again.usage == Usage(0, 0, True, 0.0) and again.cache == "semantic"
    assert (again.request_id, again.conversation_id, again.index_version) == ("r2", "c2", "v2")
    assert not again.degraded and again.answer == answer().answer
    assert settled(again, stored=True) is again  # its turn was kept: served as it is
    lost = settled(again, stored=False)  # the cache was down: the turn was not kept
    assert lost.degraded and lost.answer == again.answer and lost.request_id == "r2"


def test_events_are_typed_and_named() -> None:
    meta = Meta("r1", "v1", "miss", "extractive", "m", "c1")
    events = [meta, Delta("a"), Done(answer())]
    assert [e.event for e in events] == ["meta", "delta", "done"]
    assert meta.to_json() == {
        "request_id": "r1",
        "index_version": "v1",
        "cache": "miss",
        "backend": "extractive",
        "model": "m",
        "conversation_id": "c1",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.cache = "hit"  # type: ignore[misc]


def test_api_models_are_built_from_the_dataclasses() -> None:
    names = {f.name for f in dataclasses.fields(Answer)} - {"passage_ids"}
    assert set(AskResponse.model_fields) == names
    assert set(CitationModel.model_fields) == {f.name for f in dataclasses.fields(Citation)}
    assert set(UsageOut.model_fields) == {f.name for f in dataclasses.fields(Usage)}
    parsed = AskResponse.model_validate(answer().to_json())
    assert parsed.model_dump() == answer().to_json()
