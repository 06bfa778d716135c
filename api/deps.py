"""Dependencies: the service objects from the lifespan, API-key auth and rate limits."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from assistant.coach import StudyCoach
from assistant.errors import AuthError, RateLimitedError
from assistant.service import StudyAssistant
from assistant.settings import Settings


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(slots=True)
class AppState:
    """Everything the lifespan builds; routes reach it through the aliases below."""

    settings: Settings
    assistant: StudyAssistant
    limiter: Any  # RateLimiter protocol: hit(identity) -> retry-after seconds | None
    key_hashes: frozenset[str] = field(default_factory=frozenset)  # accepted client keys, sha256
    admin_hash: str | None = None
    coach: StudyCoach | None = None  # quizzes and progress; None when not configured


@dataclass(slots=True, frozen=True)
class Client:
    key_id: str  # sha256 of the key (first 16 hex), or "anonymous"
    identity: str  # what rate limits count: key id, else the client address


def get_state(request: Request) -> AppState:
    return request.app.state.assistant_state  # type: ignore[no-any-return]


def get_assistant(request: Request) -> StudyAssistant:
    return get_state(request).assistant


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request) -> Client:
    """Check the API key (when keys are configured) and count the request against its limit."""
    state = get_state(request)
    key = _presented_key(request)
    if state.key_hashes:
        if key is None:
            raise AuthError("an API key is required: send 'Authorization: Bearer <key>'")
        digest = hash_key(key)
        if not any(hmac.compare_digest(digest, h) for h in state.key_hashes):
            raise AuthError("unknown API key")
        key_id = digest[:16]
        identity = f"key:{key_id}"
    else:
        key_id = "anonymous"
        identity = f"ip:{request.client.host if request.client else 'unknown'}"
    retry_after = state.limiter.hit(identity) if state.limiter is not None else None
    if retry_after is not None:
        raise RateLimitedError(
            f"rate limit of {state.settings.rate_limit_per_minute} requests per minute exceeded; "
            f"retry in {retry_after:.0f} s",
            retry_after=retry_after,
        )
    return Client(key_id=key_id, identity=identity)


def require_admin(request: Request) -> None:
    state = get_state(request)
    if state.admin_hash is None:
        raise AuthError("admin endpoints are disabled: set ASSISTANT_ADMIN_KEY", admin=True)
    key = _presented_key(request)
    if key is None or not hmac.compare_digest(hash_key(key), state.admin_hash):
        raise AuthError("this endpoint needs the admin key", admin=True)


AppStateDep = Annotated[AppState, Depends(get_state)]
AssistantDep = Annotated[StudyAssistant, Depends(get_assistant)]
ClientDep = Annotated[Client, Depends(authenticate)]
AdminDep = Depends(require_admin)
