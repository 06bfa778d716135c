"""StudyAssistant in-process on the real corpus index, plus its helpers and the CLI face."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.compose import renumber_citations
from assistant.conversation import condense_question, looks_like_follow_up
from assistant.embeddings import QueryMemoEmbedder
from assistant.errors import BadInputError, IndexNotBuiltError, UpstreamModelError
from assistant.factory import make_assistant
from assistant.index import CHUNKS, read_chunks, resolve_version_dir
from assistant.protocols import GenerationRequest
from assistant.roadmap import Roadmap, parse_roadmap
from assistant.service import NOT_COVERED, AskOptions, StudyAssistant
from assistant.settings import get_settings
from assistant.types import Chunk, Delta, Done, Generation, Meta
from tests.conftest import CORPUS, make_settings


@pytest.fixture(scope="module")
def assistant(corpus_index, embedder, tmp_path_factory) -> Iterator[StudyAssistant]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("service")
    a = make_assistant(make_settings(corpus_index, tmp), embedder=embedder)
    yield a
    a.close()


@pytest.fixture(scope="module")
def chunk_ids(corpus_index: Path) -> set[str]:
    _, path = resolve_version_dir(corpus_index)
    return {c.chunk_id for c in read_chunks(path / CHUNKS)}


def chunk(n: int, text: str = "Ridge adds an L2 penalty.") -> Chunk:
    return Chunk(f"c{n}", "notes/x.md", "X", f"X > S{n}", text, None, (5,), f"h{n}")


# ------------------------------------------------------------------------------ helpers
def test_renumber_citations_keeps_only_real_passages() -> None:
    passages = [chunk(1), chunk(2), chunk(3)]
    text, cited = renumber_citations("A [1]. B [3][2]. C [0]. D [4]. E [12].", passages)
    assert text == "A [1]. B [3][2]. C . D . E ."
    assert cited == [(1, passages[0]), (2, passages[1]), (3, passages[2])]
    assert renumber_citations("no markers", passages) == ("no markers", [])


def test_condense_question() -> None:
    history = [
        {"role": "user", "content": "What is Lasso regression?"},
        {"role": "assistant", "content": "Lasso is linear regression with an L1 penalty [1]."},
    ]
    assert condense_question("When should I not use it?", history) == (
        "What is Lasso regression? When should I not use it?"
    )
    assert condense_question("and Ridge?", history) == "What is Lasso regression? and Ridge?"
    standalone = "How does gradient boosting differ from a random forest?"
    assert condense_question(standalone, history) == standalone
    assert condense_question("When should I not use it?", []) == "When should I not use it?"
    assert looks_like_follow_up("why?") and not looks_like_follow_up(standalone)


def test_roadmap_parsing_and_placement() -> None:
    phases = parse_roadmap((CORPUS / "roadmap.md").read_text(encoding="utf-8"))
    assert [p.number for p in phases] == list(range(1, 10))
    assert phases[0].goal == "Become fully comfortable writing Python code."
    assert phases[0].time == "1–2 months" and phases[0].notes[0].startswith("Rule: ")
    assert phases[2].notes == ["Outcome: Comfortable working on servers & scripts"]
    assert "NumPy" in phases[3].topics["Libraries"]
    roadmap = Roadmap(phases)
    five = roadmap.placement([5])
    assert five is not None and five.startswith(
        "In the roadmap this is Phase 5: Core Machine Learning Algorithms."
    )
    assert "Study Phase 4 (Data Handling & Analysis (CRITICAL)) before it" in five
    assert (
        roadmap.placement([1])
        == "In the roadmap this is Phase 1: Python Fundamentals (Foundation)."
    )
    assert roadmap.placement([2, 2]) is not None and "Study Phase 1" in roadmap.placement([2])  # type: ignore[operator]
    assert roadmap.placement([]) is None and roadmap.placement([0, 42]) is None
    assert Roadmap.from_file(Path("/nonexistent/roadmap.md")).phases == {}


class CountingEmbedder:
    """A tiny Embedder that counts its calls."""

    model_name = "counting"
    dimension = 3

    def __init__(self) -> None:
        self.queries = 0
        self.counts = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 3), np.float32) / np.sqrt(3)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return np.array([len(text), 1.0, 0.0], np.float32)

    def count_tokens(self, text: str) -> int:
        self.counts += 1
        return len(text.split())


def test_query_memo_embeds_a_question_once() -> None:
    inner = CountingEmbedder()
    memo = QueryMemoEmbedder(inner, max_entries=2)
    first = memo.embed_query("what is ridge?")
    first[0] = -1.0  # a caller's copy; the memo keeps its own
    again = memo.embed_query("what is ridge?")
    assert inner.queries == 1 and again[0] == len("what is ridge?")
    assert memo.count_tokens("a b c") == memo.count_tokens("a b c") == 3 and inner.counts == 1
    memo.embed_query("q2")
    memo.embed_query("q3")  # evicts the least recently used: "what is ridge?"
    memo.embed_query("what is ridge?")
    assert inner.queries == 4
    assert (memo.model_name, memo.dimension) == ("counting", 3)


class SpyEmbedder:
    """The real embedder behind the Embedder protocol, recording the queries it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self.queries: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self.inner.embed_query(text)  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)  # type: ignore[no-any-return]


def test_service_embeds_each_miss_once(corpus_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spy = SpyEmbedder(embedder)
    a = make_assistant(make_settings(corpus_index, tmp_path), embedder=spy)
    try:
        result = a.ask("How does a hash map resolve collisions?")
    finally:
        a.close()
    assert result.cache == "miss" and result.citations
    # Retrieval, the semantic cache and the extractive answerer share one embedding.
    assert spy.queries == ["How does a hash map resolve collisions?"]


# ------------------------------------------------------------------------------ answering
def test_ask_events_order_and_result(assistant: StudyAssistant, chunk_ids: set[str]) -> None:
    events = list(assistant.ask_events("What does a Dockerfile describe?", AskOptions(k=4)))
    names = [e.event for e in events]
    assert names[0] == "meta" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    meta, done = events[0], events[-1]
    assert isinstance(meta, Meta) and isinstance(done, Done)
    result = done.answer
    assert "".join(e.text for e in events if isinstance(e, Delta)) == result.answer
    assert result.cache == "miss" and result.citations and len(result.passage_ids) <= 4
    assert all(c.chunk_id in chunk_ids for c in result.citations)
    assert {c.chunk_id for c in result.citations} <= set(result.passage_ids)
    assert result.roadmap and "Phase 9" in result.roadmap
    assert meta.request_id == result.request_id


def test_cache_hit_and_ledger_rows(assistant: StudyAssistant) -> None:
    first = assistant.ask("What is the bias-variance trade-off?", AskOptions(request_id="svc-1"))
    second = assistant.ask("what is the BIAS-variance trade-off", AskOptions(request_id="svc-2"))
    assert (first.cache, second.cache) == ("miss", "hit")
    assert second.answer == first.answer and second.passage_ids == first.passage_ids
    other_k = assistant.ask("What is the bias-variance trade-off?", AskOptions(k=3))
    assert other_k.cache == "miss"  # k is part of the cache key
    assert assistant.ledger.flush()
    summary = assistant.ledger.summary()["totals"]
    assert summary["queries"] >= 3 and summary["cache_hits"] >= 1


def test_the_same_question_at_once_is_answered_once(assistant: StudyAssistant) -> None:
    question = "How does dropout keep a network from overfitting?"
    start = threading.Barrier(6)

    def ask(n: int) -> str:
        start.wait()
        return assistant.ask(question, AskOptions(request_id=f"herd-{n}")).cache

    with ThreadPoolExecutor(6) as pool:
        outcomes = sorted(pool.map(ask, range(6)))
    # One worked it out; the others waited for it and reused it, not six retrievals.
    assert outcomes == ["hit"] * 5 + ["miss"], outcomes


def test_uncovered_question(assistant: StudyAssistant) -> None:
    result = assistant.ask("Who won the 1998 football world cup?")
    assert result.answer == NOT_COVERED and result.citations == [] and result.roadmap is None
    assert result.passage_ids == []
    # Not-covered answers are not cached: a later index may cover the question.
    assert assistant.ask("Who won the 1998 football world cup?").cache == "miss"


def test_follow_up_with_conversation_id(assistant: StudyAssistant) -> None:
    first = assistant.ask("How does k-means clustering work?")
    follow = assistant.ask(
        "How do I choose the number of clusters for it?",
        AskOptions(conversation_id=first.conversation_id),
    )
    assert follow.conversation_id == first.conversation_id
    assert any("K-means" in c.section for c in follow.citations), follow.citations


def test_validation_names_the_bad_value(assistant: StudyAssistant) -> None:
    with pytest.raises(BadInputError, match="question must not be empty"):
        assistant.ask("  \n ")
    with pytest.raises(BadInputError, match="question is 2001 characters, the limit is 2000"):
        assistant.ask("x" * 2001)
    with pytest.raises(BadInputError, match="k must be between 1 and 50, got 0"):
        assistant.ask("what is ridge?", AskOptions(k=0))
    with pytest.raises(BadInputError, match="got 51"):
        assistant.search("ridge", 51)
    with pytest.raises(BadInputError, match="got 0"):
        assistant.search("ridge", 0)
    with pytest.raises(BadInputError, match="query must not be empty"):
        assistant.search("")
    hits, version = assistant.search("ridge")
    assert len(hits) == 5 and version == assistant.snapshot.version


def test_reload(assistant: StudyAssistant) -> None:
    version = assistant.snapshot.version
    assert assistant.reload() is False
    assert assistant.reload(force=True) is True and assistant.snapshot.version == version


def test_no_index_means_index_not_built(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = make_assistant(make_settings(tmp_path / "empty", tmp_path), embedder=embedder)
    try:
        assert a.ready is False and a.reload() is False
        with pytest.raises(IndexNotBuiltError, match="assistant index build"):
            a.ask("what is ridge?")
    finally:
        a.close()


class FailingGenerator:
    """A Generator whose endpoint dies, after ``good_deltas`` pieces of text."""

    backend = "openai"
    model = "broken-model"

    def __init__(self, good_deltas: int = 0) -> None:
        self.good_deltas = good_deltas
        self.calls = 0

    def generate(self, request: GenerationRequest) -> Generation:
        raise UpstreamModelError("endpoint down")

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        self.calls += 1
        for i in range(self.good_deltas):
            yield f"partial{i} "
        raise UpstreamModelError("endpoint down")


@pytest.mark.parametrize("good_deltas", [0, 2])
def test_model_failure_falls_back_to_extractive(
    assistant: StudyAssistant, good_deltas: int
) -> None:
    broken = FailingGenerator(good_deltas)
    a = StudyAssistant(
        index_dir=assistant.index_dir,
        embedder=assistant.embedder,
        retriever=assistant.retriever,
        generator=broken,
        fallback=assistant.fallback,
        cache=assistant.cache,
        semantic=None,
        ledger=assistant.ledger,
        pricing=assistant.pricing,
        roadmap=assistant.roadmap,
    )
    a.reload()
    question = f"What is early stopping? ({good_deltas})"
    events = list(a.ask_events(question))
    assert isinstance(events[-1], Done)
    result = events[-1].answer
    assert result.degraded is True and result.backend == "extractive" and result.citations
    deltas = "".join(e.text for e in events if isinstance(e, Delta))
    if good_deltas:
        assert deltas.startswith("partial0 partial1 \n\n[The model failed mid-answer")
        assert result.answer.startswith("[The model failed mid-answer; extractive answer follows.]")
    else:
        assert deltas == result.answer
    # Degraded answers are not cached: the model gets the next chance.
    assert a.ask(question).cache == "miss" and broken.calls == 2


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def cli_env(corpus_index: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        "ASSISTANT_INDEX_DIR": str(corpus_index),
        "ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli-ledger.db'}",
        "ASSISTANT_CORPUS_DIR": str(CORPUS),
        "ASSISTANT_EMBEDDING_MODEL": "all-MiniLM-L6-v2",
    }
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_cli_ask_and_search_json(cli_env: dict[str, str], chunk_ids: set[str]) -> None:
    from assistant.cli import main

    runner = CliRunner()
    result = runner.invoke(
        main, ["ask", "What is Ridge regression?", "--json", "--k", "3"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["citations"] and all(c["chunk_id"] in chunk_ids for c in body["citations"])
    assert "Phase 5" in body["roadmap"] and body["backend"] == "extractive"

    get_settings.cache_clear()
    result = runner.invoke(
        main,
        ["search", "python list comprehension", "--k", "2", "--phase", "1", "--json"],
        env=cli_env,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["results"]) == 2 and all(1 in r["phases"] for r in body["results"])

    get_settings.cache_clear()
    result = runner.invoke(main, ["search", "ridge", "--k", "0"], env=cli_env)
    assert result.exit_code == 2
    assert "error: k must be between 1 and 50, got 0" in result.stderr
