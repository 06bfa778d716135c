"""One place that maps every AssistantError class to an HTTP status and a JSON body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorResponse
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
    (e.StorageUnavailableError, 503, "storage_unavailable"),
    (e.UpstreamTimeoutError, 504, "upstream_timeout"),
    (e.UpstreamModelError, 502, "upstream_error"),
    (e.ConfigError, 500, "config_error"),
]


# Documented on every operation (route-specific entries are merged on top).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Unreadable body: invalid JSON, invalid UTF-8, nesting too deep"),
        (401, "Missing or unknown API key"),
        (403, "Admin key required"),
        (404, "No such resource"),
        (405, "Method not allowed"),
        (413, "Body over ASSISTANT_MAX_BODY_BYTES"),
        (422, "Invalid request (the message names the field)"),
        (429, "Rate limited, or too many failed authentications (see Retry-After)"),
        (500, "Server error"),
        (502, "The model endpoint failed"),
        (503, "No index loaded, or the database did not answer"),
        (504, "The model endpoint timed out"),
    )
}

# Starlette/FastAPI raise these with their own text; the type names what happened.
HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "bad_input",
}


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

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            # FastAPI's text for a body it could not decode (bad UTF-8, deep nesting).
            message = (
                "the request body could not be parsed: it must be UTF-8 JSON "
                "nested at most a few hundred levels deep"
            )
        elif exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        type_ = HTTP_TYPES.get(
            exc.status_code, "server_error" if exc.status_code >= 500 else "error"
        )
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, type_, message, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this response is sent.
        return error_response(request, 500, "internal_error", "internal server error")
