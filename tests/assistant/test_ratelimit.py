"""Rate limits: GCRA in process and in Redis (shared by replicas, failing open)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from assistant.errors import ConfigError
from assistant.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.assistant.own_redis import RedisProcess, running_redis


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    yield from running_redis()


def test_memory_limiter_allows_a_burst_then_spaces_requests() -> None:
    now = [0.0]
    limiter: RateLimiter = MemoryRateLimiter(6, clock=lambda: now[0])  # one per 10 s sustained
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6
    assert limiter.hit("a") == pytest.approx(10.0)
    assert limiter.hit("b") is None  # identities are independent
    now[0] = 4.0
    assert limiter.hit("a") == pytest.approx(6.0)
    now[0] = 10.0
    assert limiter.hit("a") is None  # one slot refilled
    assert limiter.hit("a") == pytest.approx(10.0)
    now[0] = 200.0
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6  # idle: full burst again


def test_memory_limiter_counts_exactly_under_threads() -> None:
    limiter = MemoryRateLimiter(100)
    results: list[float | None] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(30):
            r = limiter.hit("shared")
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is None for r in results) == 100


def test_zero_means_unlimited_and_negative_is_refused(clean_redis: str) -> None:
    assert all(MemoryRateLimiter(0).hit("x") is None for _ in range(1000))
    assert all(RedisRateLimiter(clean_redis, 0).hit("x") is None for _ in range(10))
    with pytest.raises(ConfigError, match=r"per_minute must be >= 0 .* got -5"):
        MemoryRateLimiter(-5)
    with pytest.raises(ConfigError, match=r"per_minute must be >= 0 .* got -1"):
        RedisRateLimiter(clean_redis, -1)


def test_two_replicas_share_the_count(clean_redis: str) -> None:
    a = RedisRateLimiter(clean_redis, 10)
    b = RedisRateLimiter(clean_redis, 10)
    results = [(a if i % 2 else b).hit("key-1") for i in range(10)]
    assert results == [None] * 10
    wait_a, wait_b = a.hit("key-1"), b.hit("key-1")
    assert wait_a is not None and 5.0 < wait_a <= 6.0  # 60 s / 10 per minute
    assert wait_b is not None and 5.0 < wait_b <= 6.0
    assert a.hit("key-2") is None
    assert a.healthy and b.healthy
    # The identity (maybe an API key) never appears in Redis key names.
    keys = redis.Redis.from_url(clean_redis).keys("*")
    assert keys and not any(b"key-1" in k for k in keys)


def test_redis_limiter_is_atomic_across_threads(clean_redis: str) -> None:
    limiters = [RedisRateLimiter(clean_redis, 50) for _ in range(4)]
    allowed = []
    lock = threading.Lock()

    def work(limiter: RedisRateLimiter) -> None:
        for _ in range(25):
            r = limiter.hit("busy")
            with lock:
                allowed.append(r is None)

    threads = [threading.Thread(target=work, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


def test_redis_limiter_fails_open_and_recovers(own_redis: RedisProcess) -> None:
    limiter = RedisRateLimiter(own_redis.url, 1, timeout_s=0.2, cooldown_s=0.3)
    assert limiter.hit("k") is None
    assert limiter.hit("k") is not None
    own_redis.stop()
    started = time.perf_counter()
    assert [limiter.hit("k") for _ in range(50)] == [None] * 50  # fail open
    assert time.perf_counter() - started < 0.5
    assert limiter.healthy is False and limiter.last_error
    own_redis.start()  # empty: the script cache is gone too
    time.sleep(0.35)
    assert limiter.hit("k") is None
    assert limiter.healthy is True
    assert limiter.hit("k") is not None
