"""The shared thread-safe LRU."""

from __future__ import annotations

import threading

import pytest

from assistant.errors import ConfigError
from assistant.lru import LRU


def test_evicts_the_least_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    assert lru.put("a", 1) == [] and lru.put("b", 2) == []
    assert lru.get("a") == 1  # "b" is now the oldest
    assert lru.put("c", 3) == [("b", 2)]
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)
    assert lru.pop("a") == 1 and lru.pop("a") is None
    lru.clear()
    assert len(lru) == 0


def test_bad_size_names_the_value() -> None:
    with pytest.raises(ConfigError, match="max_entries must be > 0, got 0"):
        LRU(0)


def test_concurrent_puts_keep_the_bound() -> None:
    lru: LRU[int, int] = LRU(50)

    def work(base: int) -> None:
        for i in range(500):
            lru.put(base + i, i)
            lru.get(base + i // 2)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 50
