"""FastAPI application factory: `create_app()` (used by `assistant serve` and the tests)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import faiss
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from api.authguard import AuthFailureLimiter
from api.clientaddr import TrustedProxies
from api.deps import AppState, hash_key
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.hot_answers import HotAnswerMiddleware
from api.metrics import GaugeSampler, multiprocess_dir
from api.middleware import RequestContextMiddleware
from api.routes import (
    admin,
    admin_page,
    ask,
    chat,
    coach,
    conversations,
    feedback,
    health,
    passages,
    roadmap,
    search,
    widget,
)
from assistant.errors import AssistantError
from assistant.service import StudyAssistant
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def _poll_index(assistant: StudyAssistant, interval_s: float, stop: threading.Event) -> None:
    """Pick up newly published index versions; a bad version is logged and the old one kept."""
    while not stop.wait(interval_s):
        try:
            assistant.reload()
        except AssistantError as exc:
            logger.error("new index version not loaded, still serving the old one: %s", exc)


def build_state(settings: Settings, assistant: StudyAssistant | None = None) -> AppState:
    from assistant.factory import (
        make_assistant,
        make_coach,
        make_feedback,
        make_rate_limiter,
        shared_database,
    )

    if assistant is None:
        assistant = make_assistant(settings)
    # The ledger's engine: every store of the database shares one pool (disposed by the last
    # of them to close, at shutdown).
    database = shared_database(assistant, settings)

    def digests(keys: list[str]) -> frozenset[str]:
        return frozenset(k[7:] if k.startswith("sha256:") else hash_key(k) for k in keys)

    public = digests(settings.public_keys)
    admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    per_minute = settings.auth_failures_per_minute
    return AppState(
        settings=settings,
        assistant=assistant,
        limiter=make_rate_limiter(settings),
        key_hashes=digests(settings.api_keys) | public,
        admin_hash=hash_key(admin) if admin else None,
        public_hashes=public,
        proxies=TrustedProxies(settings.trusted_proxies, settings.trusted_proxy_header),
        auth_failures=AuthFailureLimiter(per_minute) if per_minute > 0 else None,
        coach=make_coach(settings, assistant.embedder, database),
        feedback=make_feedback(settings, database),
    )


def create_app(
    settings: Settings | None = None, assistant: StudyAssistant | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One OpenMP thread per search: requests run in parallel threads already.
        faiss.omp_set_num_threads(1)
        state = build_state(settings, assistant)
        torch = sys.modules.get("torch")  # only the torch backend loads it: never import it here
        if torch is not None:
            # Query embeddings are tiny, and two intra-op threads per request contend on a
            # small machine (measured 0.67 s vs 0.028 s per query on 2 loaded cores).
            torch.set_num_threads(1)
        app.state.assistant_state = state
        stop = threading.Event()
        poller = None
        if settings.reload_interval_s > 0:
            poller = threading.Thread(
                target=_poll_index,
                args=(state.assistant, settings.reload_interval_s, stop),
                name="index-reload",
                daemon=True,
            )
            poller.start()
        metrics_dir = multiprocess_dir()  # several workers: each samples its own gauges
        sampler = GaugeSampler(state.assistant, metrics_dir).start() if metrics_dir else None
        try:
            yield
        finally:
            stop.set()
            if poller is not None:
                poller.join(timeout=5)
            if sampler is not None:
                sampler.stop()
            state.assistant.close()
            # The stores let go of the shared engine; the last one disposes it.
            if state.feedback is not None:
                state.feedback.close()
            if state.coach is not None:
                state.coach.close()

    # /docs (Swagger UI) with its script and styles served by this app, not from a CDN, so
    # it works offline. No /redoc: ReDoc always loads its logo from cdn.redoc.ly.
    app = FastAPIOffline(
        redoc_url=None,
        title="Study Assistant",
        version="0.1.0",
        summary="Cited answers about the Machine Learning Engineer Roadmap (2026) and its study material.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (
        ask, search, passages, feedback, chat, coach, conversations, health, admin, admin_page,
        roadmap, widget,
    ):  # fmt: skip
        for route in module.router.routes:
            # The one-line docstring is the OpenAPI summary (FastAPI would title-case the name).
            if isinstance(route, APIRoute) and not route.summary and route.description:
                route.summary = route.description.strip().splitlines()[0]
        # Every error has the one {"error": {...}} shape, documented on every operation.
        app.include_router(module.router, responses=ERROR_RESPONSES)
    # The last middleware added is the outermost: CORS wraps everything, so even a 413
    # from the body limit carries CORS headers and a cross-origin widget can read it.
    # Inside the request context: a hot answer has its request id, body limit and metrics.
    ask_route = next(r for r in ask.router.routes if getattr(r, "path", None) == "/v1/ask")
    app.add_middleware(HotAnswerMiddleware, route=ask_route)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Request-ID",
                "X-Learner-Id",
            ],
            expose_headers=["X-Request-ID", "Retry-After", "X-Learner-Id"],
            max_age=600,
        )
    return app
