"""The ask and search routes encode their JSON once (orjson, no response-model pass, issue 16).

The bodies must still be exactly the documented models: the same fields, values that
validate and serialise back unchanged, for a miss and a cache hit alike.
"""

from __future__ import annotations

from typing import Any

import httpx

from api.schemas import AskResponse, SearchResponse
from tests.conftest import LiveServer

QUESTION = "why does dropout zero activations during training?"


def _same_as_model(model: Any, body: dict[str, Any]) -> None:
    assert set(body) == set(model.model_fields), set(body) ^ set(model.model_fields)
    assert model.model_validate(body).model_dump(mode="json") == body


def test_ask_body_is_the_ask_response_model_on_miss_and_hit(server: LiveServer) -> None:
    first = httpx.post(server.url + "/v1/ask", json={"question": QUESTION}, timeout=60)
    again = httpx.post(server.url + "/v1/ask", json={"question": QUESTION}, timeout=60)
    assert first.status_code == again.status_code == 200
    assert first.headers["content-type"] == again.headers["content-type"] == "application/json"
    miss, hit = first.json(), again.json()
    assert (miss["cache"], hit["cache"]) == ("miss", "hit") and miss["citations"]
    for body in (miss, hit):
        _same_as_model(AskResponse, body)
    assert hit["answer"] == miss["answer"] and hit["citations"] == miss["citations"]
    assert hit["request_id"] != miss["request_id"]
    assert hit["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "exact": True,
                            "cost_usd": 0.0}  # fmt: skip


def test_search_body_is_the_search_response_model(server: LiveServer) -> None:
    r = httpx.post(server.url + "/v1/search", json={"query": "dropout", "k": 4}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    _same_as_model(SearchResponse, body)
    assert len(body["results"]) == 4
    scores = [x["score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_errors_keep_their_shape_and_status(server: LiveServer) -> None:
    bad = httpx.post(server.url + "/v1/ask", json={"question": "   "}, timeout=60)
    assert bad.status_code == 422 and bad.json()["error"]["type"]
    big_k = httpx.post(server.url + "/v1/search", json={"query": "x", "k": 99}, timeout=60)
    assert big_k.status_code == 422 and "k" in big_k.text
