"""Bounded filters and one error shape for every error (issue 11, items 5 and 6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer


def assert_error_shape(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["type"] == type_ and error["message"] and error["request_id"]
    assert error["request_id"] == r.headers["x-request-id"]
    return error  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ item 5
@pytest.mark.parametrize("path", ["/v1/search", "/v1/ask"])
@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"sources": [f"n/{i}" for i in range(51)]}, "sources: List should have at most 50"),
        ({"sources": ["x" * 501]}, "sources.0: String should have at most 500"),
        ({"sources": [""]}, "sources.0: String should have at least 1"),
        ({"phases": [42]}, "phases.0: Input should be less than or equal to 9"),
        ({"phases": [0]}, "phases.0: Input should be greater than or equal to 1"),
        ({"phases": list(range(1, 10)) * 2}, "phases: List should have at most 9"),
    ],
)
def test_filters_are_bounded(
    server: LiveServer, path: str, filters: dict[str, Any], named: str
) -> None:
    body = {"query": "ridge", "question": "What is ridge?", **filters}
    r = httpx.post(server.url + path, json=body, timeout=60)
    assert named in assert_error_shape(r, 422, "bad_input")["message"]


def test_chat_completions_phases_are_bounded(server: LiveServer) -> None:
    r = httpx.post(
        server.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "ridge?"}], "phases": [42]},
    )
    # OpenAI's shape on the OpenAI-compatible route (tests/api/test_chat_completions.py).
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["param"] == "phases[0]"


def test_the_largest_allowed_filter_still_works(server: LiveServer) -> None:
    sources = ["notes/"] + [f"nowhere/{i}.md" for i in range(49)]
    r = httpx.post(
        server.url + "/v1/search",
        json={"query": "ridge regression penalty", "sources": sources, "phases": [5, 6]},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and all(
        h["source"].startswith("notes/") and {5, 6} & set(h["phases"]) for h in results
    )


# ------------------------------------------------------------------------------ item 6
@pytest.mark.parametrize(
    ("content", "status", "type_"),
    [
        (b'{"question": ', 422, "bad_input"),  # invalid JSON
        (b"[" * 30_000 + b"]" * 30_000, 400, "bad_request"),  # nesting too deep
        (b'{"question": "caf\xe9"}', 400, "bad_request"),  # invalid UTF-8
        (b"\xff\xfe", 422, "bad_input"),
        (b'{"question": "x", "k": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "bad_request"),
    ],
    ids=["invalid-json", "deep-nesting", "invalid-utf8", "bom-garbage", "nested-field"],
)
def test_unreadable_bodies_get_the_one_error_shape(
    server: LiveServer, content: bytes, status: int, type_: str
) -> None:
    r = httpx.post(
        server.url + "/v1/ask",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert_error_shape(r, status, type_)


def test_404_and_405_get_the_one_error_shape(server: LiveServer) -> None:
    missing = httpx.get(server.url + "/v1/nothing-here")
    assert "/v1/nothing-here" in assert_error_shape(missing, 404, "not_found")["message"]
    wrong = httpx.get(server.url + "/v1/ask")
    assert "GET" in assert_error_shape(wrong, 405, "method_not_allowed")["message"]
    assert wrong.headers["allow"] == "POST"


def test_every_operation_documents_the_error_shape(server: LiveServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas, "FastAPI's own 422 shape is not what we send"
    assert set(schemas["ErrorResponse"]["properties"]) == {"error"}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            errors = {code: r for code, r in op["responses"].items() if code >= "400"}
            assert {"400", "404", "405", "422", "429", "500"} <= set(errors), (path, method)
            for code, response in errors.items():
                ref = response["content"]["application/json"]["schema"]["$ref"]
                # The OpenAI-compatible route's invalid requests have OpenAI's shape.
                openai_400 = (path, code) == ("/v1/chat/completions", "400")
                shape = "OpenAIErrorResponse" if openai_400 else "ErrorResponse"
                assert ref == f"#/components/schemas/{shape}", (path, method, code)
