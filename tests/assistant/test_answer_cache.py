"""AnswerCache: exact and semantic hits, validity by passage ids, canonical scopes."""

from __future__ import annotations

import json
import threading
import time

from assistant.answer_cache import AnswerCache, CacheHit, CacheScope
from assistant.answer_writer import Sampling
from assistant.cache import MemoryCache
from assistant.searcher import Query
from assistant.semantic_cache import SemanticCache
from assistant.types import Answer, Usage
from tests.fakes.embedder import BagOfWordsEmbedder


def scope(**kw: object) -> CacheScope:
    base: dict[str, object] = {"backend": "extractive", "model": "m", "prompt_version": "p", "k": 5}
    return CacheScope(**{**base, **kw})  # type: ignore[arg-type]


def answer(passages: list[str]) -> Answer:
    return Answer(
        answer="Ridge adds an L2 penalty [1].",
        citations=[],
        usage=Usage(10, 5, True, 0.001),
        cache="miss",
        backend="extractive",
        model="m",
        index_version="v1",
        latency_ms=5.0,
        degraded=False,
        request_id="r1",
        conversation_id="c1",
        passage_ids=passages,
    )


def test_a_clients_own_sampling_gets_its_own_scope() -> None:
    default = scope()
    # Requests with the server's limits keep the keys they had before the digest existed.
    assert '"p",5,[],[],""]' in default.namespace()
    short = scope(generation_digest=CacheScope.generation(Sampling(12, 0.2)))
    told = scope(generation_digest=CacheScope.generation(Sampling(512, 0.2, "Be brief.")))
    assert len({default.namespace(), short.namespace(), told.namespace()}) == 3
    assert CacheScope.generation(Sampling(12, 0.2)) == CacheScope.generation(Sampling(12, 0.2))


def test_scopes_serialise_filters_canonically() -> None:
    assert scope(sources=["a,b"]).namespace() != scope(sources=["a", "b"]).namespace()
    assert scope(sources=["b", "a"]).namespace() == scope(sources=["a", "b"]).namespace()
    assert scope(phases=[12]).namespace() != scope(phases=[1, 2]).namespace()
    assert scope(k=3).namespace() != scope().namespace()
    history = [{"role": "user", "content": "What is Ridge?"}]
    assert scope(history_digest=CacheScope.digest(history)).namespace() != scope().namespace()
    assert AnswerCache.key("q", scope(sources=["a,b"])) != AnswerCache.key(
        "q", scope(sources=["a", "b"])
    )


def test_exact_hit_then_invalid_once_a_passage_is_gone() -> None:
    embedder = BagOfWordsEmbedder()
    cache = AnswerCache(MemoryCache(), None, ttl_s=60)
    query = Query("What is Ridge regression?", embedder)
    assert cache.lookup(query, scope(), {"p1"}) is None
    cache.store(query, scope(), answer(["p1", "p2"]))
    same = Query("what is ridge regression", embedder)
    hit = cache.lookup(same, scope(), {"p1", "p2", "p3"})
    assert hit is not None and hit.outcome == "hit" and hit.answer.usage.cost_usd == 0.001
    assert cache.lookup(same, scope(), {"p1"}) is None  # p2 left the index
    assert cache.lookup(same, scope(sources=["x"]), {"p1", "p2"}) is None
    assert embedder.queries == []  # exact lookups embed nothing


def test_semantic_hit_in_the_same_scope_only() -> None:
    embedder = BagOfWordsEmbedder()
    cache = AnswerCache(MemoryCache(), SemanticCache.in_memory(threshold=0.9), ttl_s=60)
    cache.store(Query("ridge regression what is", embedder), scope(), answer(["p1"]))
    reordered = Query("What is ridge regression?", embedder)
    hit = cache.lookup(reordered, scope(), {"p1"})
    assert hit is not None and hit.outcome == "semantic"
    assert cache.lookup(Query("What is ridge regression?", embedder), scope(k=2), {"p1"}) is None


def test_malformed_entries_are_misses() -> None:
    store = MemoryCache()
    cache = AnswerCache(store, None, ttl_s=60)
    store.set(AnswerCache.key("q", scope()), {"answer": "no other fields"}, 60)
    assert cache.lookup(Query("q", BagOfWordsEmbedder()), scope(), set()) is None
    assert cache.healthy


def test_hot_copies_answer_without_the_store_until_they_expire() -> None:
    embedder, store, now = BagOfWordsEmbedder(), MemoryCache(), [100.0]
    cache = AnswerCache(store, None, ttl_s=60, hot_ttl_s=10, clock=lambda: now[0])
    query = Query("What is Ridge regression?", embedder)
    assert cache.peek(query.text, scope(), {"p1"}) is None
    cache.store(query, scope(), answer(["p1"]))
    store.delete(AnswerCache.key(query.text, scope()))  # only the hot copy is left
    hot = cache.peek("what is ridge regression", scope(), {"p1", "p2"})
    assert hot is not None and hot.answer == answer(["p1"]).answer and hot.usage.cost_usd == 0.001
    assert cache.peek(query.text, scope(), {"p2"}) is None  # p1 left the index
    assert cache.peek(query.text, scope(k=3), {"p1"}) is None  # another scope
    hit = cache.lookup(query, scope(), {"p1"})
    assert hit is not None and hit.outcome == "hit"
    now[0] += 10.0  # expired
    assert cache.peek(query.text, scope(), {"p1"}) is None
    assert cache.lookup(query, scope(), {"p1"}) is None  # and the store no longer has it
    assert embedder.queries == []


def test_a_lookup_keeps_what_it_decoded_hot_and_zero_turns_it_off() -> None:
    store = MemoryCache()
    writer = AnswerCache(store, None, ttl_s=60, hot_ttl_s=0)
    query = Query("What is Ridge regression?", BagOfWordsEmbedder())
    writer.store(query, scope(), answer(["p1"]))
    assert writer.peek(query.text, scope(), {"p1"}) is None  # no hot copies at all
    reader = AnswerCache(store, None, ttl_s=60)  # another replica: the same store
    assert reader.peek(query.text, scope(), {"p1"}) is None  # never served here yet
    assert reader.lookup(query, scope(), {"p1"}) is not None
    store.delete(AnswerCache.key(query.text, scope()))
    assert reader.peek(query.text, scope(), {"p1"}) is not None  # decoded once, kept
    assert AnswerCache(store, None, ttl_s=5, hot_ttl_s=60).hot_ttl_s == 5  # never past the TTL


def test_namespace_is_the_json_it_always_was() -> None:
    # Stored answers are found by keys made of it: changing a byte orphans every entry.
    told = scope(
        sources=["b", "a,c", "é"], phases=[3, 1], history_digest="d", generation_digest="g"
    )
    fields = ["extractive", "m", "p", 5, ["a,c", "b", "é"], [1, 3], "d", "g"]
    expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert told.namespace() == expected
    assert scope().namespace() == '["extractive","m","p",5,[],[],""]'


def test_the_same_question_waits_for_the_answer_under_way() -> None:
    embedder = BagOfWordsEmbedder()
    cache = AnswerCache(MemoryCache(), None, ttl_s=60)
    query = Query("What is Ridge regression?", embedder)
    assert cache.wait_for_answer(query, scope(), {"p1"}, timeout_s=0.1) is None  # none under way
    got: list[object] = []
    with cache.answering(query, scope()):
        waiter = threading.Thread(
            target=lambda: got.append(cache.wait_for_answer(query, scope(), {"p1"}))
        )
        waiter.start()
        time.sleep(0.2)
        assert waiter.is_alive() and not got  # still waiting for this answer
        cache.store(query, scope(), answer(["p1"]))
    waiter.join(5)
    hit = got[0]
    assert isinstance(hit, CacheHit) and hit.outcome == "hit" and hit.answer.passage_ids == ["p1"]
    # An answer that was not stored (degraded, failed): the waiter works it out itself.
    other = Query("What is Lasso?", embedder)
    with cache.answering(other, scope()):
        waiter = threading.Thread(
            target=lambda: got.append(cache.wait_for_answer(other, scope(), {"p1"}))
        )
        waiter.start()
    waiter.join(5)
    assert got[1] is None
