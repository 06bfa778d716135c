"""One place that maps every AssistantError class to an HTTP status and a JSON body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assistant import errors as e

logger = logging.getLogger(__name__)

STATUS: list[tuple[type[e.AssistantError], int, str]] = [
    # Most specific first.
    (e.PayloadTooLargeError, 413, "payload_too_large"),
    (e.BadInputError, 422, "bad_input"),
    (e.RateLimitedError, 429, "rate_limited"),
    (e.NotFoundError, 404, "not_found"),
    (e.ConflictError, 409, "conflict"),
    (e.IndexNotBuiltError, 503, "index_not_built"),
    (e.IndexCorruptError, 503, "index_corrupt"),
    (e.UpstreamTimeoutError, 504, "upstream_timeout"),
    (e.UpstreamModelError, 502, "upstream_error"),
    (e.ConfigError, 500, "config_error"),
]


def error_response(
    request: Request, status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = request.scope.get("state", {}).get("request_id")
    body = {"error": {"type": type_, "message": message, "request_id": rid}}
    return JSONResponse(body, status_code=status, headers=headers)


def status_for(exc: e.AssistantError) -> tuple[int, str]:
    if isinstance(exc, e.AuthError):
        return (403, "forbidden") if exc.admin else (401, "unauthorized")
    for cls, status, type_ in STATUS:
        if isinstance(exc, cls):
            return status, type_
    return 500, "internal_error"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.AssistantError)
    async def _assistant_error(request: Request, exc: e.AssistantError) -> JSONResponse:
        status, type_ = status_for(exc)
        headers = {}
        if isinstance(exc, e.RateLimitedError):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        if isinstance(exc, e.AuthError) and not exc.admin:
            headers["WWW-Authenticate"] = "Bearer"
        if status >= 500:
            logger.warning(
                "request %s failed: %s", request.scope.get("state", {}).get("request_id"), exc
            )
        return error_response(request, status, type_, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}"
            for err in exc.errors()
        ]
        return error_response(request, 422, "bad_input", "; ".join(problems) or "invalid request")
