"""Exact caches: the in-process LRU, and RedisCache against real Redis servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from assistant.cache import MemoryCache, exact_key, normalize_question
from assistant.errors import ConfigError
from assistant.redis_cache import RedisCache
from tests.assistant.own_redis import RedisProcess, running_redis

TIMEOUT_S = 0.2


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    yield from running_redis()


# --- helpers ------------------------------------------------------------------------
def test_exact_key_is_sha256_hex_and_separates_parts() -> None:
    key = exact_key("ask", "what is ridge")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == exact_key("ask", "what is ridge")
    assert exact_key("a", "bc") != exact_key("ab", "c")
    assert exact_key("x") != exact_key("x", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  What   is Ridge\tRegression?? ", "what is ridge regression"),
        ("Why is X slow?!.", "why is x slow"),
        ("top 10 models", "top 10 models"),
        ("Isn’t L2 better?", "isn't l2 better"),
        ("e.g. what is 3.5", "e.g. what is 3.5"),
        ("STRASSE vs straße", "strasse vs strasse"),
    ],
)
def test_normalize_question(raw: str, expected: str) -> None:
    assert normalize_question(raw) == expected


def test_normalize_keeps_meaningful_differences() -> None:
    assert normalize_question("why is X slow") != normalize_question("why is X not slow")
    assert normalize_question("top 5") != normalize_question("top 10")


# --- MemoryCache --------------------------------------------------------------------
def test_memory_cache_round_trip_returns_copies() -> None:
    cache = MemoryCache(4)
    value = {"answer": "ridge", "citations": [1, 2]}
    cache.set("k", value, ttl_s=60)
    got = cache.get("k")
    assert got == value
    assert got is not value
    got["answer"] = "changed"
    assert cache.get("k") == value
    cache.delete("k")
    assert cache.get("k") is None
    cache.delete("missing")  # no error


def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(2)
    cache.set("a", {"v": 1}, ttl_s=60)
    cache.set("b", {"v": 2}, ttl_s=60)
    assert cache.get("a") == {"v": 1}  # a is now the most recent
    cache.set("c", {"v": 3}, ttl_s=60)
    assert cache.get("b") is None
    assert cache.get("a") == {"v": 1}
    assert cache.get("c") == {"v": 3}
    assert len(cache) == 2


def test_memory_cache_expires_per_entry() -> None:
    now = [1000.0]
    cache = MemoryCache(10, clock=lambda: now[0])
    cache.set("short", {"v": 1}, ttl_s=5)
    cache.set("long", {"v": 2}, ttl_s=50)
    now[0] += 6
    assert cache.get("short") is None
    assert cache.get("long") == {"v": 2}
    now[0] += 50
    assert cache.get("long") is None


def test_memory_cache_is_thread_safe() -> None:
    cache = MemoryCache(64)

    def work(n: int) -> None:
        for i in range(300):
            cache.set(f"{n}-{i}", {"i": i}, ttl_s=60)
            cache.get(f"{n}-{i - 1}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 64


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ConfigError, match="max_entries must be > 0, got 0"):
        MemoryCache(0)
    cache = MemoryCache(2)
    with pytest.raises(ValueError, match="ttl_s must be > 0 seconds, got -1"):
        cache.set("k", {"v": 1}, ttl_s=-1)
    with pytest.raises(TypeError, match="'k' is not JSON-serialisable"):
        cache.set("k", {"v": object()}, ttl_s=1)


# --- RedisCache on the shared server ------------------------------------------------
def test_redis_cache_round_trip_ttl_and_prefix(clean_redis: str) -> None:
    cache = RedisCache(clean_redis, prefix="t:")
    assert cache.ping() and cache.healthy and cache.last_error is None
    value = {"answer": "ridge [1]", "cost": 0.25, "nested": {"ok": True}}
    cache.set("k1", value, ttl_s=30)
    assert cache.get("k1") == value
    raw = redis.Redis.from_url(clean_redis)
    assert 0 < raw.ttl("t:k1") <= 30  # stored under the prefix, with its TTL
    assert cache.get("missing") is None
    cache.delete("k1")
    assert cache.get("k1") is None
    raw.set("t:junk", b"\xff not json")
    assert cache.get("junk") is None  # foreign value: a miss, not an error
    cache.close()


def test_redis_cache_is_shared_between_instances(clean_redis: str) -> None:
    a, b = RedisCache(clean_redis), RedisCache(clean_redis)
    a.set("shared", {"v": 1}, ttl_s=30)
    assert b.get("shared") == {"v": 1}


def test_set_many_and_submit_in_process() -> None:
    cache = MemoryCache()
    cache.set_many([("a", {"v": 1}, 30), ("b", {"v": 2}, 30)])
    done = cache.submit([("c", {"v": 3}, 30)])
    assert done.done() and done.result() is None  # nothing to wait for in process
    assert [cache.get(k) for k in "abc"] == [{"v": 1}, {"v": 2}, {"v": 3}]
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        cache.submit([("d", {"v": 4}, 0)]).result()
    assert cache.get("d") is None


def test_redis_set_many_is_one_round_trip_and_submit_groups(clean_redis: str) -> None:
    cache = RedisCache(clean_redis, prefix="g:")
    raw = redis.Redis.from_url(clean_redis)
    cache.set_many([(f"k{i}", {"i": i}, 30) for i in range(10)])
    assert [cache.get(f"k{i}") for i in range(10)] == [{"i": i} for i in range(10)]
    assert 0 < raw.ttl("g:k3") <= 30
    # Writes submitted from many threads at once: every future ends once its write is in.
    futures = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        f = cache.submit([(f"t{n}", {"n": n}, 30), (f"u{n}", {"n": -n}, 30)])
        with lock:
            futures.append(f)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for f in futures:
        assert f.result(timeout=5) is None
    assert all(
        cache.get(f"t{n}") == {"n": n} and cache.get(f"u{n}") == {"n": -n} for n in range(40)
    )
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        cache.submit([("bad", {"v": 1}, -1)])
    late = cache.submit([("late", {"v": 1}, 30)])
    cache.close()  # writes what is pending before it stops
    assert late.done() and raw.get("g:late") == b'{"v":1}'


def test_redis_cache_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid Redis URL 'http://u:\\*\\*\\*@host:1/0'"):
        RedisCache("http://u:secret@host:1/0")


# --- RedisCache when its own server dies, freezes and comes back -------------------
def test_redis_cache_survives_a_stopped_server(own_redis: RedisProcess) -> None:
    cache = RedisCache(own_redis.url, timeout_s=TIMEOUT_S, cooldown_s=0.3)
    cache.set("k", {"v": 1}, ttl_s=60)
    assert cache.get("k") == {"v": 1}
    own_redis.stop()

    started = time.perf_counter()
    assert cache.get("k") is None
    first = time.perf_counter() - started
    assert first < 0.5, f"first call against a dead Redis took {first:.3f}s"
    assert cache.healthy is False
    assert cache.last_error and "onnect" in cache.last_error
    assert cache.ping() is False

    # Within the cool-down no call reaches Redis: misses are immediate.
    started = time.perf_counter()
    for _ in range(100):
        assert cache.get("k") is None
        cache.set("k", {"v": 2}, ttl_s=60)
        cache.delete("k")
    per_call = (time.perf_counter() - started) / 300
    assert per_call < 0.005, f"{per_call * 1000:.2f} ms per call during the cool-down"

    own_redis.start()  # same port, empty data
    time.sleep(0.35)  # past the cool-down
    cache.set("k", {"v": 3}, ttl_s=60)
    assert cache.healthy is True
    assert cache.get("k") == {"v": 3}
    assert cache.ping() is True


def test_submit_to_a_stopped_server_ends_and_reports(own_redis: RedisProcess) -> None:
    cache = RedisCache(own_redis.url, timeout_s=TIMEOUT_S, cooldown_s=0.5)
    own_redis.stop()
    t0 = time.perf_counter()
    done = cache.submit([("k", {"v": 1}, 30)])
    assert done.result(timeout=5) is None  # the writes are lost, the caller is not failed
    assert time.perf_counter() - t0 < 2 * TIMEOUT_S + 0.5
    assert not cache.healthy and "ConnectionError" in (cache.last_error or "")
    own_redis.start()
    time.sleep(0.6)
    assert cache.submit([("k", {"v": 2}, 30)]).result(timeout=5) is None
    assert cache.healthy and cache.get("k") == {"v": 2}
    cache.close()


def test_redis_cache_bounded_when_server_is_frozen(own_redis: RedisProcess) -> None:
    cache = RedisCache(own_redis.url, timeout_s=TIMEOUT_S, cooldown_s=0.3)
    cache.set("k", {"v": 1}, ttl_s=60)
    own_redis.freeze()
    try:
        started = time.perf_counter()
        assert cache.get("k") is None
        elapsed = time.perf_counter() - started
        assert elapsed < TIMEOUT_S + 0.15, f"get on a frozen Redis took {elapsed:.3f}s"
        assert cache.healthy is False
        assert "Timeout" in (cache.last_error or "")

        # Many callers during the cool-down cost nothing more.
        started = time.perf_counter()
        for _ in range(50):
            assert cache.get("k") is None
        assert time.perf_counter() - started < 0.05
    finally:
        own_redis.resume()
    time.sleep(0.35)
    assert cache.get("k") == {"v": 1}
    assert cache.healthy is True


def test_redis_cache_one_probe_per_cooldown_under_concurrency(own_redis: RedisProcess) -> None:
    cache = RedisCache(own_redis.url, timeout_s=TIMEOUT_S, cooldown_s=5)
    assert cache.ping()
    own_redis.freeze()
    try:
        durations: list[float] = []

        def call() -> None:
            t0 = time.perf_counter()
            cache.get("k")
            durations.append(time.perf_counter() - t0)

        # The first call times out; the 20 that follow are inside its cool-down.
        call()
        threads = [threading.Thread(target=call) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert durations[0] >= TIMEOUT_S * 0.9
        assert max(durations[1:]) < 0.05
    finally:
        own_redis.resume()
