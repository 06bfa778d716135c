"""OpenAI-style 400s for the OpenAI-compatible routes: ``{"error": {message, type, param, code}}``.

OpenAI clients read ``param`` to say which part of a request was wrong, so on these
routes every validation error (and every ``BadInputError``) is a 400
``invalid_request_error`` naming the parameter as OpenAI writes it
(``messages[0].content``). Other errors (401, 429, 5xx) keep the API's one shape
(``api.errors``), which OpenAI clients read the same way (``error.message``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from assistant.errors import BadInputError, PayloadTooLargeError


class InvalidRequestError(BadInputError):
    """A request an OpenAI-compatible route refuses; names the parameter at fault."""

    def __init__(self, message: str, param: str | None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody


def param_of(loc: Sequence[int | str]) -> str | None:
    """A pydantic error location as OpenAI names parameters: ``messages[0].content``."""
    name = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or None


def _code(kind: str) -> str:
    if kind == "missing":
        return "missing_required_parameter"
    if kind.endswith(("_type", "_parsing")) or kind in ("list_type", "dict_type"):
        return "invalid_type"
    return "invalid_value"


def from_validation(exc: RequestValidationError) -> InvalidRequestError:
    """The first problem's parameter and code; every problem in the message."""
    errors = list(exc.errors())
    if not errors:
        return InvalidRequestError("invalid request", None)
    if errors[0]["type"] == "json_invalid":
        return InvalidRequestError(
            f"the body is not valid JSON: {errors[0]['msg']}", None, "invalid_json"
        )
    problems = []
    for err in errors:
        param = param_of(err["loc"])
        problems.append(f"{param}: {err['msg']}" if param else str(err["msg"]))
    first = errors[0]
    return InvalidRequestError("; ".join(problems), param_of(first["loc"]), _code(first["type"]))


def invalid_request(exc: BadInputError) -> JSONResponse:
    param = exc.param if isinstance(exc, InvalidRequestError) else None
    code = exc.code if isinstance(exc, InvalidRequestError) else "invalid_value"
    error = {"message": str(exc), "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=400)


class OpenAIRoute(APIRoute):
    """An APIRoute whose validation errors and ``BadInputError``s are OpenAI-style 400s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return invalid_request(from_validation(exc))
            except PayloadTooLargeError:
                raise  # 413, as everywhere
            except BadInputError as exc:
                return invalid_request(exc)

        return handle
