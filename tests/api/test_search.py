"""POST /v1/search over real HTTP: ranked passages, filters, modes and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assistant.types import Chunk
from tests.conftest import LiveServer


def search(srv: LiveServer, **body: Any) -> dict[str, Any]:
    r = httpx.post(srv.url + "/v1/search", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_results_are_real_passages_in_rank_order(
    server: LiveServer, index_chunks: dict[str, Chunk]
) -> None:
    body = search(server, query="ridge regression L2 penalty", k=4)
    assert body["index_version"] == server.assistant.snapshot.version
    results = body["results"]
    assert len(results) == 4
    assert set(results[0]) == {
        "chunk_id", "text", "source", "title", "section", "url", "phases", "score",
    }  # fmt: skip
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    for r in results:
        chunk = index_chunks[r["chunk_id"]]
        assert (r["text"], r["source"], r["section"], r["url"]) == (
            chunk.text,
            chunk.source,
            chunk.section,
            chunk.url,
        )
    assert "Ridge" in results[0]["section"]
    assert len({r["chunk_id"] for r in results}) == 4
    assert len(search(server, query="ridge regression L2 penalty")["results"]) == 5  # default k


@pytest.mark.parametrize("phase", [2, 7])
def test_phase_filter(server: LiveServer, phase: int) -> None:
    results = search(server, query="how do I speed up my code", k=8, phases=[phase])["results"]
    assert results
    assert all(phase in r["phases"] for r in results), [(r["source"], r["phases"]) for r in results]


def test_source_filter_exact_and_folder(server: LiveServer) -> None:
    exact = search(
        server, query="gradient descent", k=6, sources=["notes/phase-6-deep-learning.md"]
    )
    assert exact["results"]
    assert {r["source"] for r in exact["results"]} == {"notes/phase-6-deep-learning.md"}
    folder = search(server, query="gradient descent", k=10, sources=["notes/"])["results"]
    assert folder and all(r["source"].startswith("notes/") for r in folder)
    nothing = search(server, query="gradient descent", sources=["no/such/folder/"])
    assert nothing["results"] == []


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes(server: LiveServer, mode: str) -> None:
    results = search(server, query="Docker image layers", k=3, mode=mode)["results"]
    assert len(results) == 3
    assert any("docker" in (r["section"] + r["text"]).lower() for r in results)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"query": "ridge", "k": 0}, "k"),
        ({"query": "ridge", "k": 500}, "k"),
        ({"query": ""}, "query"),
        ({"query": "ridge", "mode": "fuzzy"}, "mode"),
        ({"query": ["ridge"]}, "query"),
        ({"query": "ridge", "phases": "five"}, "phases"),
        ({"k": 3}, "query"),
    ],
)
def test_bad_input_is_422_naming_the_field(server: LiveServer, body: Any, names: str) -> None:
    r = httpx.post(server.url + "/v1/search", json=body, timeout=10)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "bad_input"
    assert error["message"].startswith(f"{names}:") or f"; {names}:" in error["message"], error


def test_blank_query_is_rejected_by_the_service(server: LiveServer) -> None:
    r = httpx.post(server.url + "/v1/search", json={"query": "   \n "}, timeout=10)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "query must not be empty"
