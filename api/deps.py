"""Dependencies: the service objects from the lifespan, API-key auth and rate limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.authguard import AuthFailureLimiter
from api.clientaddr import TrustedProxies
from assistant.coach import StudyCoach
from assistant.errors import AuthError, RateLimitedError
from assistant.feedback_store import SqlFeedbackStore
from assistant.protocols import RateLimiter
from assistant.ratelimit import MemoryRateLimiter
from assistant.service import StudyAssistant
from assistant.settings import Settings


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(slots=True)
class AppState:
    """Everything the lifespan builds; routes reach it through the aliases below."""

    settings: Settings
    assistant: StudyAssistant
    limiter: RateLimiter | None  # None: no rate limits
    key_hashes: frozenset[str] = field(default_factory=frozenset)  # accepted client keys, sha256
    admin_hash: str | None = None
    public_hashes: frozenset[str] = field(default_factory=frozenset)  # limited per key + address
    proxies: TrustedProxies = field(default_factory=lambda: TrustedProxies(()))
    auth_failures: AuthFailureLimiter | None = None
    coach: StudyCoach | None = None  # quizzes and progress; None when not configured
    feedback: SqlFeedbackStore | None = None  # learners' ratings; None when not configured


@dataclass(slots=True, frozen=True)
class Client:
    key_id: str  # sha256 of the key (first 16 hex), or "anonymous"
    identity: str  # what rate limits count: key id (+ address for public keys), else address
    address: str = "unknown"  # the client address (forwarded only by trusted proxies)
    public: bool = False  # a public (widget) key: shared by every visitor of a site


def get_state(request: Request) -> AppState:
    return request.app.state.assistant_state  # type: ignore[no-any-return]


def get_assistant(request: Request) -> StudyAssistant:
    return get_state(request).assistant


# The dependency providers are coroutines: FastAPI runs sync dependencies in the worker
# thread pool, and /health, /ready and /metrics must answer while every worker is busy.
async def _state_dep(request: Request) -> AppState:
    return get_state(request)


async def _assistant_dep(request: Request) -> StudyAssistant:
    return get_state(request).assistant


# Coroutines, like the two above: a sync dependency costs a worker-thread round trip per
# request (three of them made a cached answer cost twice /health).
async def get_request_id(request: Request) -> str | None:
    """The id the request-context middleware gave this request (X-Request-ID)."""
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else None


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def _check_not_blocked(state: AppState, address: str) -> None:
    wait = state.auth_failures.blocked(address) if state.auth_failures else None
    if wait is not None:
        raise RateLimitedError(
            f"too many failed authentications from this address; retry in {wait:.0f} s",
            retry_after=wait,
        )


def _auth_failed(state: AppState, address: str, error: AuthError) -> AuthError:
    if state.auth_failures is not None:
        state.auth_failures.failed(address)
    return error


def _key_client(state: AppState, request: Request, address: str) -> Client | AuthError:
    """The caller its key names (nothing counted), or the AuthError that refuses it."""
    if not state.key_hashes:
        return Client(key_id="anonymous", identity=f"ip:{address}", address=address)
    key = _presented_key(request)
    if key is None:
        return AuthError("an API key is required: send 'Authorization: Bearer <key>'")
    digest = hash_key(key)
    if not any(hmac.compare_digest(digest, h) for h in state.key_hashes):
        return AuthError("unknown API key")
    key_id = digest[:16]
    public = digest in state.public_hashes
    # A public (widget) key is shared by every visitor: one bucket per visitor.
    identity = f"key:{key_id}|ip:{address}" if public else f"key:{key_id}"
    return Client(key_id=key_id, identity=identity, address=address, public=public)


async def authenticate(request: Request) -> Client:
    """Check the API key (when keys are configured) and count the request against its limit."""
    state = get_state(request)
    address = state.proxies.client_address(request)
    if state.key_hashes:
        _check_not_blocked(state, address)
    client = _key_client(state, request, address)
    if isinstance(client, AuthError):
        raise _auth_failed(state, address, client)
    limiter = state.limiter
    retry_after = None
    if isinstance(limiter, MemoryRateLimiter):
        retry_after = limiter.hit(client.identity)  # a lock and a dict: no I/O, no thread needed
    elif limiter is not None:  # Redis: network I/O stays off the event loop
        retry_after = await run_in_threadpool(limiter.hit, client.identity)
    if retry_after is not None:
        raise RateLimitedError(
            f"rate limit of {state.settings.rate_limit_per_minute} requests per minute exceeded; "
            f"retry in {retry_after:.0f} s",
            retry_after=retry_after,
        )
    return client


def client_at_once(state: AppState, request: Request) -> Client | None:
    """``authenticate`` without I/O or counting: the caller its key names, or None when
    only ``authenticate`` may decide (a refusal, which it counts and words)."""
    address = state.proxies.client_address(request)
    failures = state.auth_failures
    if state.key_hashes and failures is not None and failures.blocked(address) is not None:
        return None
    client = _key_client(state, request, address)
    return None if isinstance(client, AuthError) else client


def admit_at_once(state: AppState, client: Client) -> bool:
    """Count the request against the caller's limit without I/O; False when it is over the
    limit, or the limiter is in Redis (``authenticate`` then decides: a refused hit takes
    nothing from the bucket, so asking again is free)."""
    limiter = state.limiter
    if limiter is None:
        return True
    return isinstance(limiter, MemoryRateLimiter) and limiter.hit(client.identity) is None


def require_admin(request: Request) -> None:
    state = get_state(request)
    if state.admin_hash is None:
        raise AuthError("admin endpoints are disabled: set ASSISTANT_ADMIN_KEY", admin=True)
    address = state.proxies.client_address(request)
    _check_not_blocked(state, address)
    key = _presented_key(request)
    if key is None or not hmac.compare_digest(hash_key(key), state.admin_hash):
        raise _auth_failed(
            state, address, AuthError("this endpoint needs the admin key", admin=True)
        )


AppStateDep = Annotated[AppState, Depends(_state_dep)]
AssistantDep = Annotated[StudyAssistant, Depends(_assistant_dep)]
ClientDep = Annotated[Client, Depends(authenticate)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
AdminDep = Depends(require_admin)
