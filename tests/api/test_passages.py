"""GET /v1/passages/{chunk_id} over real HTTP: a cited passage whole, its neighbours, 404, keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.types import Chunk
from tests.conftest import LiveServer, make_settings

KEY = "passages-key"


def read(srv: LiveServer, chunk_id: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/v1/passages/{chunk_id}", headers=headers, timeout=30)


def in_order(chunks: dict[str, Chunk], source: str) -> list[Chunk]:
    """The passages of ``source`` in chunk order, as the index holds them."""
    return sorted((c for c in chunks.values() if c.source == source), key=lambda c: c.ordinal)


def check_passage(body: dict[str, Any], chunk: Chunk, chunks: dict[str, Chunk]) -> None:
    assert (body["chunk_id"], body["text"], body["title"], body["source"], body["url"]) == (
        chunk.chunk_id,
        chunk.text,
        chunk.title,
        chunk.source,
        chunk.url,
    )
    assert body["section"] == chunk.section
    assert " > ".join(body["headings"]) == chunk.section
    assert body["topic"] == chunk.section.split(" > ")[-1]
    assert [p["number"] for p in body["phases"]] == list(chunk.phases)
    siblings = in_order(chunks, chunk.source)
    i = [c.chunk_id for c in siblings].index(chunk.chunk_id)
    assert (body["position"], body["count"]) == (i + 1, len(siblings))
    for side, j in (("previous", i - 1), ("next", i + 1)):
        if 0 <= j < len(siblings):
            near = siblings[j]
            assert body[side]["chunk_id"] == near.chunk_id
            assert body[side]["section"] == near.section
            shown = body[side]["preview"]
            assert shown and " ".join(near.text.split()).startswith(shown.removesuffix("…"))
            assert len(shown) <= 121
        else:
            assert body[side] is None


def test_a_cited_passage_whole_with_its_neighbours(
    server: LiveServer, index_chunks: dict[str, Chunk]
) -> None:
    r = httpx.post(
        server.url + "/v1/ask", json={"question": "When should I use Lasso instead of Ridge?"}
    )
    assert r.status_code == 200, r.text
    citations = r.json()["citations"]
    assert citations
    for c in citations:
        got = read(server, c["chunk_id"])
        assert got.status_code == 200, got.text
        body = got.json()
        chunk = index_chunks[c["chunk_id"]]
        assert body["text"].startswith(c["snippet"])  # the citation's snippet, whole
        assert body["index_version"] == server.assistant.snapshot.version
        check_passage(body, chunk, index_chunks)
    # Phase titles come from the roadmap.
    body = read(server, citations[0]["chunk_id"]).json()
    roadmap = server.assistant.roadmap.phases
    assert body["phases"] and all(p["title"] == roadmap[p["number"]].title for p in body["phases"])

    # Walk a source from its first passage to its last through "next", and back.
    source = index_chunks[citations[0]["chunk_id"]].source
    siblings = in_order(index_chunks, source)
    assert len(siblings) >= 3
    seen, step = [], read(server, siblings[0].chunk_id).json()
    assert step["previous"] is None
    while True:
        seen.append(step["chunk_id"])
        if step["next"] is None:
            break
        following = read(server, step["next"]["chunk_id"]).json()
        assert following["previous"]["chunk_id"] == step["chunk_id"]
        step = following
    assert seen == [c.chunk_id for c in siblings]
    check_passage(step, siblings[-1], index_chunks)


def test_an_unknown_passage_is_a_404_in_the_error_shape(server: LiveServer) -> None:
    r = read(server, "0123456789abcdef0123")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "not_found" and "0123456789abcdef0123" in err["message"]
    assert server.assistant.snapshot.version in err["message"]
    assert err["request_id"] == r.headers["X-Request-ID"]
    too_long = read(server, "x" * 101)
    assert too_long.status_code == 422 and too_long.json()["error"]["type"] == "bad_input"
    assert "/v1/passages/{chunk_id}" in httpx.get(server.url + "/openapi.json").json()["paths"]


@pytest.fixture(scope="module")
def keyed(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("passages-keyed")
    with LiveServer(make_settings(corpus_index, tmp, api_keys=[KEY]), embedder) as srv:
        yield srv


def test_passages_need_a_key_like_the_other_routes(
    keyed: LiveServer, index_chunks: dict[str, Chunk]
) -> None:
    chunk_id = next(iter(index_chunks))
    missing = read(keyed, chunk_id)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "unauthorized"
    assert read(keyed, chunk_id, Authorization="Bearer wrong").status_code == 401
    ok = read(keyed, chunk_id, Authorization=f"Bearer {KEY}")
    assert ok.status_code == 200 and ok.json()["chunk_id"] == chunk_id
    assert read(keyed, chunk_id, **{"X-API-Key": KEY}).status_code == 200
