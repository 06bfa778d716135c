"""compose_answer: citations, roadmap placement and cost of one generated text."""

from __future__ import annotations

import time

from assistant.answer_writer import Written
from assistant.compose import RequestInfo, Timings, compose_answer, cost_row
from assistant.pricing import ModelPrice, PricingTable
from assistant.roadmap import Phase, Roadmap
from assistant.types import Chunk, Generation, Usage


def chunk(n: int, phases: tuple[int, ...] = (5,)) -> Chunk:
    return Chunk(f"c{n}", "notes/x.md", "X", f"X > S{n}", f"Passage {n}.", None, phases, f"h{n}")


ROADMAP = Roadmap([Phase(4, "Data", "Phase 4: Data"), Phase(5, "Core ML", "Phase 5: Core ML")])
PRICING = PricingTable({"gpt-x": ModelPrice(1.0, 2.0)})
INFO = RequestInfo("r1", "conv1", "v1", time.perf_counter())


def test_citations_placement_and_cost() -> None:
    passages = [chunk(1), chunk(2), chunk(3, (9,))]
    gen = Generation("A [2]. B [1][7]. C [3].", Usage(1000, 500, True), model="gpt-x")
    answer = compose_answer(
        Written(gen, "openai", "gpt-x"),
        passages,
        {"c1": 0.5, "c2": 0.25},
        INFO,
        roadmap=ROADMAP,
        pricing=PRICING,
        degraded=False,
    )
    assert answer.answer == "A [2]. B [1]. C [3]."
    assert [(c.id, c.chunk_id, c.score) for c in answer.citations] == [
        (1, "c1", 0.5),
        (2, "c2", 0.25),
        (3, "c3", 0.0),
    ]
    assert answer.usage == Usage(1000, 500, True, 0.002)  # 1000 * $1/M + 500 * $2/M
    assert answer.roadmap is not None and answer.roadmap.startswith(
        "In the roadmap this is Phase 5"
    )
    assert answer.passage_ids == ["c1", "c2", "c3"] and answer.cache == "miss"
    assert (answer.request_id, answer.conversation_id, answer.index_version) == (
        "r1",
        "conv1",
        "v1",
    )
    assert not answer.degraded and answer.latency_ms >= 0


def test_fallback_and_no_passages() -> None:
    gen = Generation("The study material does not cover this question.", model="extractive:m")
    answer = compose_answer(
        Written(gen, "extractive", "extractive:m", fell_back=True),
        [],
        {},
        INFO,
        roadmap=ROADMAP,
        pricing=PRICING,
        degraded=False,
    )
    assert answer.degraded and answer.citations == [] and answer.roadmap is None
    assert answer.usage.cost_usd == 0.0


def test_meta_and_cost_row() -> None:
    meta = INFO.meta("hit", "openai", "gpt-x")
    assert (meta.request_id, meta.cache, meta.conversation_id) == ("r1", "hit", "conv1")
    gen = Generation("A [1].", Usage(10, 5, False), model="gpt-x")
    answer = compose_answer(
        Written(gen, "openai", "gpt-x"),
        [chunk(1)],
        {},
        INFO,
        roadmap=ROADMAP,
        pricing=PRICING,
        degraded=True,
    )
    row = cost_row(answer, "key1", "chat", Timings(1.0, 2.0, 3.0), saved_usd=0.0, embed_tokens=4)
    assert (row.key_id, row.endpoint, row.tokens_exact, row.degraded) == (
        "key1",
        "chat",
        False,
        True,
    )
    assert (row.embed_ms, row.retrieve_ms, row.generate_ms, row.embed_tokens) == (1.0, 2.0, 3.0, 4)
    assert row.cost_usd == answer.usage.cost_usd and row.request_id == "r1"
