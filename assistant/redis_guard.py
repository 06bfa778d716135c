"""Redis clients that fail fast, and a guard that turns Redis outages into misses.

Every Redis-backed part (answer cache, semantic cache, rate limiter) is optional
infrastructure: when Redis is down or frozen the service must keep answering, only
slower. ``GuardedRedis`` is the base of all three: a client from ``redis_client``
and a ``RedisGuard``. ``redis_client`` bounds each call by a socket timeout and retries a dropped
connection once; ``RedisGuard`` catches the failure, remembers it (``healthy``,
``last_error``) and skips Redis for a short cool-down so a dead server costs at most
one timeout per cool-down instead of one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds between PINGs on an idle pooled connection, so a connection that a
# restarted server dropped is noticed before a real command is sent on it.
HEALTH_CHECK_INTERVAL_S = 15


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def redis_client(url: str, *, timeout_s: float) -> redis.Redis:
    """A client whose every call ends within about ``timeout_s`` (bytes responses).

    A refused or reset connection is retried once after a short backoff (the server
    may just have restarted); a timeout is not retried, because a frozen server would
    then cost twice the timeout.
    """
    if timeout_s <= 0:
        raise ConfigError(f"Redis timeout_s must be > 0, got {timeout_s!r}")
    retry = Retry(
        ExponentialBackoff(cap=0.05, base=0.01),
        retries=1,
        supported_errors=(redis.ConnectionError,),
    )
    try:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=retry,
            health_check_interval=HEALTH_CHECK_INTERVAL_S,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid Redis URL {redact_url(url)!r}: {exc}") from exc


class RedisGuard:
    """Runs Redis calls, never raising: failures return a default and start a cool-down."""

    def __init__(self, name: str, *, cooldown_s: float = 1.0) -> None:
        if cooldown_s < 0:
            raise ConfigError(f"cooldown_s must be >= 0, got {cooldown_s!r}")
        self.name = name
        self.cooldown_s = cooldown_s
        self.healthy = True
        self.last_error: str | None = None
        self._skip_until = 0.0  # time.monotonic() before which Redis is not tried
        self._lock = threading.Lock()

    def _may_call(self) -> bool:
        with self._lock:
            if self.healthy:
                return True
            now = time.monotonic()
            if now < self._skip_until:
                return False
            # This caller probes; concurrent callers keep skipping until it reports.
            self._skip_until = now + self.cooldown_s
            return True

    def call(self, fn: Callable[[], T], default: T) -> T:
        """``fn()``, or ``default`` when Redis failed now or within the cool-down."""
        if not self._may_call():
            return default
        try:
            result = fn()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return default
        if not self.healthy:
            with self._lock:
                self.healthy = True
            logger.info("%s: Redis is reachable again", self.name)
        return result

    def _failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self._lock:
            was_healthy = self.healthy
            self.healthy = False
            self.last_error = message
            self._skip_until = time.monotonic() + self.cooldown_s
        if was_healthy:
            logger.warning(
                "%s: Redis failed (%s); skipping it for %.1fs at a time until it answers",
                self.name,
                message,
                self.cooldown_s,
            )


class GuardedRedis:
    """Base of the Redis-backed parts: a fail-fast client behind a guard, never raising.

    Subclasses run every command through ``_call``; ``healthy``, ``last_error``,
    ``ping`` and ``close`` are the same for all of them.
    """

    def __init__(self, url: str, name: str, *, timeout_s: float, cooldown_s: float) -> None:
        self._client = redis_client(url, timeout_s=timeout_s)
        self._guard = RedisGuard(name, cooldown_s=cooldown_s)

    @property
    def healthy(self) -> bool:
        return self._guard.healthy

    @property
    def last_error(self) -> str | None:
        return self._guard.last_error

    def _call(self, fn: Callable[[redis.Redis], T], default: T) -> T:
        """``fn(client)``, or ``default`` when Redis failed now or within the cool-down."""
        return self._guard.call(lambda: fn(self._client), default)

    def ping(self) -> bool:
        """True when Redis answers now (for /ready); False during a cool-down."""
        return bool(self._call(lambda r: r.ping(), False))

    def close(self) -> None:
        try:
            self._client.close()
        except Exception as exc:  # closing must not fail a shutdown
            logger.debug("%s: close failed: %s", self._guard.name, exc)
