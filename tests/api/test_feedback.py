"""POST /v1/feedback over real HTTP, on SQLite and on a real PostgreSQL.

One rating per (request id, caller): stored with the answered turn, replaced by a second
rating, refused (404) for an unknown request id or another caller's, 422 for bad input,
which changes nothing stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import LiveServer, make_settings

ALICE, BOB = "feedback-key-alice", "feedback-key-bob"
QUESTION = "When should I use Lasso instead of Ridge?"


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Service:
    """A live service on one database, and that database's feedback rows."""

    def __init__(self, srv: LiveServer, url: str, tag: str) -> None:
        self.srv, self.url, self.tag = srv, url, tag

    def ask(self, key: str, question: str = QUESTION) -> dict[str, Any]:
        rid = f"{self.tag}-{uuid.uuid4().hex[:8]}"
        r = httpx.post(
            self.srv.url + "/v1/ask",
            json={"question": question},
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": rid},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert body["request_id"] == rid
        return body

    def rate(self, key: str | None, body: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(self.srv.url + "/v1/feedback", json=body, headers=headers, timeout=30)

    def rows(self) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                result = conn.execute(
                    sa.text("select * from feedback where request_id like :p order by id"),
                    {"p": self.tag + "-%"},
                )
                return [dict(r._mapping) for r in result]
        finally:
            engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, corpus_index, embedder, tmp_path_factory) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    tmp: Path = tmp_path_factory.mktemp(f"feedback-{request.param}")
    url = (
        f"sqlite:///{tmp / 'ledger.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    tag = f"fb-{uuid.uuid4().hex[:10]}"
    settings = make_settings(corpus_index, tmp, database_url=url, api_keys=[ALICE, BOB])
    with LiveServer(settings, embedder) as srv:
        yield Service(srv, url, tag)
    engine = sa.create_engine(url)  # the PostgreSQL database is shared: remove this run's rows
    with engine.begin() as conn:
        for table in ("feedback", "query_costs"):
            conn.execute(
                sa.text(f"delete from {table} where request_id like :p"), {"p": tag + "-%"}
            )
    engine.dispose()


def test_a_rating_is_stored_with_the_answer_and_a_second_replaces_it(service: Service) -> None:
    answer = service.ask(ALICE)
    rid = answer["request_id"]
    r = service.rate(ALICE, {"request_id": rid, "rating": "up"})
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == "up" and r.json()["comment"] is None
    [row] = service.rows()
    assert (row["request_id"], row["key_id"], row["rating"]) == (rid, key_id(ALICE), "up")
    # The answered turn is stored with the rating: usable as a Q&A pair.
    assert row["question"] == QUESTION and row["answer"] == answer["answer"]
    assert row["index_version"] == answer["index_version"]
    # JSON: PostgreSQL's driver decodes it, SQLite's hands back the text.
    context = json.loads(row["context"]) if isinstance(row["context"], str) else row["context"]
    assert isinstance(context, list) and len(context) >= max(c["id"] for c in answer["citations"])
    for c in answer["citations"]:
        assert context[c["id"] - 1]["text"].startswith(c["snippet"])
        assert context[c["id"] - 1]["source"] == c["source"]

    again = service.rate(ALICE, {"request_id": rid, "rating": "down", "comment": "  Too vague. "})
    assert again.status_code == 200, again.text
    assert again.json()["comment"] == "Too vague."
    [row2] = service.rows()
    assert (row2["id"], row2["rating"], row2["comment"]) == (row["id"], "down", "Too vague.")
    assert row2["question"] == QUESTION and row2["created_at"] == row["created_at"]
    assert row2["updated_at"] >= row["updated_at"]


def test_bad_input_is_refused_clearly_and_changes_nothing(service: Service) -> None:
    rid = service.ask(ALICE, "What is dropout?")["request_id"]
    assert (
        service.rate(ALICE, {"request_id": rid, "rating": "up", "comment": "ok"}).status_code == 200
    )
    before = service.rows()
    cases: list[tuple[Any, str]] = [
        ({"request_id": rid, "rating": "meh"}, "rating"),
        ({"request_id": rid}, "rating"),
        ({"rating": "up"}, "request_id"),
        ({"request_id": "", "rating": "up"}, "request_id"),
        ({"request_id": rid, "rating": "down", "comment": "x" * 1001}, "comment"),
        ({"request_id": rid, "rating": "down", "stars": 5}, "stars"),
        ({"request_id": rid, "rating": "down", "comment": 7}, "comment"),
        (["not", "an", "object"], "object"),
    ]
    for body, named in cases:
        r = service.rate(ALICE, body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        err = r.json()["error"]
        assert err["type"] == "bad_input" and named in err["message"], (body, err)
    assert service.rows() == before
    # Exactly at the limit is fine (code points, not bytes).
    ok = service.rate(ALICE, {"request_id": rid, "rating": "down", "comment": "é" * 1000})
    assert ok.status_code == 200, ok.text


def test_unknown_and_other_callers_request_ids_are_404(service: Service) -> None:
    rid = service.ask(ALICE, "What is a feature store?")["request_id"]
    unknown = service.rate(ALICE, {"request_id": f"{service.tag}-never-asked", "rating": "up"})
    assert unknown.status_code == 404
    err = unknown.json()["error"]
    assert err["type"] == "not_found" and "never-asked" in err["message"]
    # Bob cannot rate Alice's answer, and learns nothing more than for an unknown id.
    theirs = service.rate(BOB, {"request_id": rid, "rating": "down", "comment": "spam"})
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "not_found"
    assert service.rate(None, {"request_id": rid, "rating": "up"}).status_code == 401
    assert [r for r in service.rows() if r["request_id"] == rid] == []
    # Alice rates her own answer: the row is keyed by her key id.
    mine = service.rate(ALICE, {"request_id": rid, "rating": "up"})
    assert mine.status_code == 200
    [row] = [r for r in service.rows() if r["request_id"] == rid]
    assert row["key_id"] == key_id(ALICE)


def test_a_rating_right_after_the_answer_finds_its_ledger_row(service: Service) -> None:
    """The ledger writes in the background; the rating waits for it instead of a 404."""
    for _ in range(5):
        rid = service.ask(BOB, "How does a hash map work?")["request_id"]
        r = service.rate(BOB, {"request_id": rid, "rating": "up"})
        assert r.status_code == 200, r.text
