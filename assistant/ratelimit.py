"""Per-identity request limits: in-process, or in Redis so all replicas share the count.

Both limiters use GCRA (the generic cell rate algorithm, a token bucket kept as
one timestamp): each identity may make ``per_minute`` requests at once, then one
every ``60 / per_minute`` seconds. State per identity is one number, its
"theoretical arrival time" (TAT); a request is allowed when TAT - now <= 60 s - T.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from assistant.errors import ConfigError
from assistant.protocols import RateLimiter
from assistant.redis_guard import GuardedRedis

__all__ = ["WINDOW_S", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]

WINDOW_S = 60.0


def _check_rate(per_minute: int) -> None:
    if per_minute < 0:
        raise ConfigError(f"per_minute must be >= 0 (0 = unlimited), got {per_minute!r}")


class MemoryRateLimiter:
    """GCRA limiter for one process (thread-safe); ``per_minute=0`` allows everything."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        _check_rate(per_minute)
        self.per_minute = per_minute
        self.healthy = True
        self._clock = clock
        self._tat: dict[str, float] = {}  # identity -> theoretical arrival time (clock seconds)
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def hit(self, identity: str) -> float | None:
        if self.per_minute == 0:
            return None
        interval = WINDOW_S / self.per_minute
        with self._lock:
            now = self._clock()
            if now >= self._next_prune:
                # Identities idle for a full window are back to a full bucket: forget them.
                self._tat = {k: v for k, v in self._tat.items() if v > now}
                self._next_prune = now + WINDOW_S
            tat = max(self._tat.get(identity, now), now)
            new_tat = tat + interval
            allow_at = new_tat - WINDOW_S
            if allow_at > now:
                return allow_at - now
            self._tat[identity] = new_tat
            return None


# KEYS[1]: the identity's key. ARGV: interval (ms), window (ms).
# Uses the Redis server clock, so replicas with skewed clocks still agree.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if allow_at > now then
  return tostring(allow_at - now)
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
return false
"""


class RedisRateLimiter(GuardedRedis):
    """GCRA limiter in Redis, atomic via a Lua script; fails open when Redis is down."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        timeout_s: float = 0.25,
        *,
        prefix: str = "sa:rl:",
        cooldown_s: float = 1.0,
    ) -> None:
        _check_rate(per_minute)
        super().__init__(url, "rate limiter", timeout_s=timeout_s, cooldown_s=cooldown_s)
        self.per_minute = per_minute
        self._script = self._client.register_script(_GCRA_LUA)
        self._prefix = prefix

    def hit(self, identity: str) -> float | None:
        if self.per_minute == 0:
            return None
        # Identities may be API keys or IPs: keep them out of Redis key names.
        key = self._prefix + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        interval_ms = WINDOW_S * 1000 / self.per_minute
        result = self._call(
            lambda _: self._script(keys=[key], args=[interval_ms, WINDOW_S * 1000]), None
        )
        if result is None:
            return None  # allowed, or Redis unavailable (fail open)
        return float(result) / 1000
