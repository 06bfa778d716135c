"""A JSON response serialised once, by orjson, past FastAPI's response-model pass.

A route that returns a ``Response`` skips FastAPI's validation and re-encoding of its
return value against ``response_model`` (which still documents the route in OpenAPI).
The routes that use it build exactly that model's fields (``Answer.to_json``,
``SearchHit.to_json``); the tests compare both shapes.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class FastJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
