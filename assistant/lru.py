"""A small thread-safe least-recently-used map, shared by every in-process cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from assistant.errors import ConfigError

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``max_entries`` items; ``get`` and ``put`` mark an item as most recently used."""

    def __init__(self, max_entries: int) -> None:
        if max_entries <= 0:
            raise ConfigError(f"max_entries must be > 0, got {max_entries!r}")
        self.max_entries = max_entries
        self._items: OrderedDict[K, V] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> list[tuple[K, V]]:
        """Store ``value``; returns the items evicted to make room (oldest first)."""
        evicted: list[tuple[K, V]] = []
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                evicted.append(self._items.popitem(last=False))
        return evicted

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
