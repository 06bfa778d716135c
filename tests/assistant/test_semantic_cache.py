"""Semantic cache: the meaning guard, real embeddings, and replicas sharing through Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.semantic_cache import SemanticCache
from assistant.semantic_guard import refusal_reason, tokens
from tests.assistant.own_redis import RedisProcess, running_redis

NS = "extractive|none|v1|all"
THRESHOLD = 0.92

# Pairs that mean the same: similarity with all-MiniLM-L6-v2 is above the threshold.
SAME = [
    ("what is ridge regression?", "What's ridge regression"),
    ("How do I install PyTorch?", "how to install pytorch"),
    ("What is gradient descent?", "what's gradient descent"),
    ("how can I prevent overfitting", "how to prevent overfitting"),
    ("what does overfitting mean", "what is overfitting"),
]
# Pairs that differ in meaning; several score above the threshold, so the guard must refuse.
DIFFERENT = [
    ("why is X slow", "why is X not slow"),
    ("top 5 models", "top 10 models"),
    ("what is L1 regularization", "what is L2 regularization"),
    ("which is faster, numpy or pandas", "which is slower, numpy or pandas"),
    ("normalize before or after the split", "normalize after the split"),
    ("how to sort a list ascending", "how to sort a list descending"),
    ("is sgd better than adam", "is adam better than sgd"),
    ("explain adam optimizer", "explain adamw optimizer"),
    ("what is the minimum batch size", "what is the maximum batch size"),
    ("how to increase the learning rate", "how to decrease the learning rate"),
    ("why is my model overfitting", "why is my model underfitting"),
    ("how to train a model on GPU", "how to train a model without GPU"),
]


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    yield from running_redis()


def unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


# --- the guard ------------------------------------------------------------------------
def test_tokens_spell_out_contractions() -> None:
    assert tokens("Isn't it what's called L2?") == ["is", "not", "it", "what", "is", "called", "l2"]
    assert tokens("Why can't I?") == ["why", "can", "not", "i"]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_guard_refuses_different_meanings(a: str, b: str) -> None:
    assert refusal_reason(a, b) is not None
    assert refusal_reason(b, a) is not None


@pytest.mark.parametrize(("a", "b"), SAME)
def test_guard_allows_paraphrases(a: str, b: str) -> None:
    assert refusal_reason(a, b) is None


def test_guard_reasons_name_the_difference() -> None:
    assert refusal_reason("top 5", "top 10") == "numbers differ"
    assert refusal_reason("is it slow", "isn't it slow") == "negation differs"
    assert refusal_reason("x before y", "x after y") == "cue words differ: ['after', 'before']"
    assert refusal_reason("use adam", "use adamw") == "name variants differ: 'adam' vs 'adamw'"
    assert refusal_reason("what are embeddings", "what are embedding") is None  # plural only


# --- real embeddings -----------------------------------------------------------------
def test_real_similarities_against_the_threshold(embedder: Any) -> None:
    texts = sorted({q for pair in SAME + DIFFERENT for q in pair})
    # One batch: all-MiniLM-L6-v2 has no query prompt, so these equal embed_query's vectors.
    vec = dict(zip(texts, embedder.embed_documents(texts), strict=True))
    cache = SemanticCache.in_memory(threshold=THRESHOLD)
    for i, (a, b) in enumerate(SAME):
        sim = float(vec[a] @ vec[b])
        assert sim >= THRESHOLD, f"{a!r} / {b!r}: {sim:.3f}"
        cache.add(a, vec[a], f"same-{i}", NS)
        assert cache.lookup(b, vec[b], NS) == f"same-{i}"

    above = 0
    for i, (a, b) in enumerate(DIFFERENT):
        cache.add(a, vec[a], f"diff-{i}", NS)
        sim = float(vec[a] @ vec[b])
        above += sim >= THRESHOLD
        assert cache.lookup(b, vec[b], NS) is None, f"{a!r} / {b!r} ({sim:.3f})"
    # The guard is needed: embeddings alone would have served most of these wrongly.
    assert above >= 6


# --- the in-process index --------------------------------------------------------------
def test_lookup_respects_threshold_and_namespace() -> None:
    cache = SemanticCache.in_memory(threshold=0.9)
    v = unit(1)
    cache.add("what is ridge", v, "key-1", NS)
    assert cache.lookup("what is ridge", v * 3.0, NS) == "key-1"  # vectors are re-normalised
    assert cache.lookup("what is ridge", v, "openai|gpt-4o|v1|all") is None
    assert cache.lookup("what is ridge", unit(2), NS) is None  # far away
    near = v + 0.05 * unit(3)
    assert cache.lookup("what is ridge", near, NS) == "key-1"


def test_best_candidate_that_passes_the_guard_wins() -> None:
    cache = SemanticCache.in_memory(threshold=0.5)
    v = unit(7)
    cache.add("top 5 models", v, "five", NS)
    cache.add("top 10 models", (v + 0.2 * unit(8)), "ten", NS)
    assert cache.lookup("top 10 models", v, NS) == "ten"  # "five" is nearer but refused
    assert cache.lookup("top 7 models", v, NS) is None


def test_eviction_keeps_the_newest_entries() -> None:
    cache = SemanticCache.in_memory(threshold=0.99, max_entries=3)
    vectors = [unit(i) for i in range(5)]
    for i, v in enumerate(vectors):
        cache.add(f"question {chr(97 + i)}", v, f"k{i}", NS if i % 2 else "other")
    assert len(cache) == 3
    assert cache.lookup("question a", vectors[0], "other") is None
    assert cache.lookup("question b", vectors[1], NS) is None
    assert cache.lookup("question c", vectors[2], "other") == "k2"
    assert cache.lookup("question d", vectors[3], NS) == "k3"
    assert cache.lookup("question e", vectors[4], "other") == "k4"
    cache.add("question e", vectors[4], "k4", "other")  # re-adding does not duplicate
    assert len(cache) == 3


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ConfigError, match=r"threshold must be in \(0, 1\], got 1\.5"):
        SemanticCache.in_memory(threshold=1.5)
    with pytest.raises(ConfigError, match="max_entries must be > 0, got 0"):
        SemanticCache.in_memory(max_entries=0)
    cache = SemanticCache.in_memory()
    cache.add("q", unit(1, dim=8), "k", NS)
    with pytest.raises(ValueError, match=r"dimension 4, namespace .* holds 8"):
        cache.lookup("q", unit(1, dim=4), NS)
    with pytest.raises(ValueError, match="non-zero"):
        cache.add("q", np.zeros(8, dtype=np.float32), "k", NS)


# --- replicas through Redis ------------------------------------------------------------
def test_replicas_share_entries(clean_redis: str) -> None:
    a = SemanticCache.redis(clean_redis, threshold=0.95)
    b = SemanticCache.redis(clean_redis, threshold=0.95)
    v = unit(11, dim=384)
    a.add("what is ridge regression", v, "key-a", NS)
    assert b.lookup("What's ridge regression?", v, NS) == "key-a"
    b.add("what is lasso", unit(12, dim=384), "key-b", NS)
    assert a.lookup("what is lasso", unit(12, dim=384), NS) == "key-b"
    assert len(a) == 2 and len(b) == 2
    # A replica started later reads the history of the stream.
    c = SemanticCache.redis(clean_redis, threshold=0.95)
    assert c.lookup("what is ridge regression", v, NS) == "key-a"
    assert a.healthy and b.healthy and c.healthy
    for cache in (a, b, c):
        cache.close()


def test_redis_outage_keeps_the_local_mirror(own_redis: RedisProcess) -> None:
    a = SemanticCache.redis(own_redis.url, timeout_s=0.2, cooldown_s=0.3)
    b = SemanticCache.redis(own_redis.url, timeout_s=0.2, cooldown_s=0.3)
    v1, v2 = unit(21), unit(22)
    a.add("first question", v1, "k1", NS)
    assert b.lookup("first question", v1, NS) == "k1"
    own_redis.stop()

    started = time.perf_counter()
    a.add("second question", v2, "k2", NS)  # publishing fails quietly
    assert a.lookup("second question", v2, NS) == "k2"  # the local mirror answers
    assert b.lookup("first question", v1, NS) == "k1"
    assert time.perf_counter() - started < 1.0
    assert a.healthy is False and b.healthy is False
    assert b.lookup("second question", v2, NS) is None  # never published

    own_redis.start()
    time.sleep(0.35)  # past the cool-down
    v3 = unit(23)
    a.add("third question", v3, "k3", NS)
    assert b.lookup("third question", v3, NS) == "k3"
    assert a.healthy and b.healthy
