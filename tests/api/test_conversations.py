"""Conversation history over real HTTP: stored, listed, read, exported, deleted and resumed.

On SQLite and PostgreSQL, with real keys; each caller sees only its own conversations;
a conversation continues from the database after Redis lost it (flushed, or down).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import LiveServer, free_port, make_settings

RUN = uuid.uuid4().hex[:8]  # PostgreSQL keeps earlier runs' rows: keys (owners) are new each run
KEY_A, KEY_B, PUBLIC = f"hist-a-{RUN}", f"hist-b-{RUN}", f"hist-public-{RUN}"
LASSO = "What is Lasso regression?"
FOLLOW = "When should I not use it?"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def keyed(request, corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The default service with two private keys and a public one, on each database."""
    tmp = tmp_path_factory.mktemp(f"history-{request.param}")
    overrides: dict[str, Any] = {"api_keys": [KEY_A, KEY_B], "public_keys": [PUBLIC]}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    with LiveServer(make_settings(corpus_index, tmp, **overrides), embedder) as srv:
        yield srv


def headers(key: str | None = None, learner: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {key}"} if key else {}
    return {**out, "X-Learner-Id": learner} if learner else out


def ask(srv: LiveServer, question: str, key: str | None = None, learner: str | None = None,
        **body: Any) -> dict[str, Any]:  # fmt: skip
    r = httpx.post(
        srv.url + "/v1/ask", json={"question": question, **body},
        headers=headers(key, learner), timeout=60,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def get(srv: LiveServer, path: str, key: str | None = None, learner: str | None = None,
        **params: Any) -> httpx.Response:  # fmt: skip
    return httpx.get(srv.url + path, params=params, headers=headers(key, learner), timeout=30)


def listed(srv: LiveServer, key: str | None = None, learner: str | None = None) -> list[str]:
    r = get(srv, "/v1/conversations", key, learner, limit=100)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["conversations"]]


def share(citations: list[dict[str, Any]], word: str) -> float:
    return sum(word in f"{c['title']} {c['section']}" for c in citations) / max(1, len(citations))


def test_store_list_read_export_and_delete(keyed: LiveServer) -> None:
    first = ask(keyed, LASSO, KEY_A)
    follow = ask(keyed, FOLLOW, KEY_A, conversation_id=first["conversation_id"])
    assert follow["conversation_id"] == first["conversation_id"]
    other = ask(keyed, "What is a Dockerfile?", KEY_A)
    conv_id = first["conversation_id"]

    page = get(keyed, "/v1/conversations", KEY_A).json()
    assert [c["id"] for c in page["conversations"]] == [other["conversation_id"], conv_id]
    assert page["next_cursor"] is None
    summary = page["conversations"][1]
    assert (summary["title"], summary["turn_count"]) == (LASSO, 4)
    assert summary["created_at"] <= summary["updated_at"]

    conv = get(keyed, f"/v1/conversations/{conv_id}", KEY_A).json()
    assert [(t["role"], t["content"]) for t in conv["turns"]] == [
        ("user", LASSO), ("assistant", first["answer"]),
        ("user", FOLLOW), ("assistant", follow["answer"]),
    ]  # fmt: skip
    assert [t["seq"] for t in conv["turns"]] == [0, 1, 2, 3]
    assert conv["turns"][1]["citations"] == first["citations"] and first["citations"]
    assert conv["turns"][3]["citations"] == follow["citations"]
    assert [t["request_id"] for t in conv["turns"]] == [first["request_id"]] * 2 + [
        follow["request_id"]
    ] * 2
    assert conv["turns"][0]["citations"] == []

    # One page at a time: limit and the cursor walk the same list.
    p1 = get(keyed, "/v1/conversations", KEY_A, limit=1).json()
    p2 = get(keyed, "/v1/conversations", KEY_A, limit=1, cursor=p1["next_cursor"]).json()
    assert [c["id"] for c in p1["conversations"] + p2["conversations"]] == [
        other["conversation_id"], conv_id,
    ]  # fmt: skip
    assert p1["next_cursor"] and p2["next_cursor"] is None

    md = get(keyed, f"/v1/conversations/{conv_id}/export", KEY_A, format="markdown")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.headers["content-disposition"] == f'attachment; filename="conversation-{conv_id}.md"'
    text = md.text
    assert text.startswith(f"# {LASSO}\n")
    assert f"## Question 1\n\n> {LASSO}\n" in text and f"## Question 2\n\n> {FOLLOW}\n" in text
    assert first["answer"].strip() in text and follow["answer"].strip() in text
    # Every [n] of an answer names a numbered source listed after it.
    c1 = first["citations"][0]
    assert f"- **[{c1['id']}]** {c1['title']}" in text
    assert text.count("**Sources**") == 2

    # Delete: gone from the list, unreadable, and it cannot be continued.
    assert (
        httpx.delete(f"{keyed.url}/v1/conversations/{conv_id}", headers=headers(KEY_A)).status_code
        == 204
    )
    assert get(keyed, f"/v1/conversations/{conv_id}", KEY_A).status_code == 404
    assert listed(keyed, KEY_A) == [other["conversation_id"]]
    again = ask(keyed, FOLLOW, KEY_A, conversation_id=conv_id)
    assert again["conversation_id"] != conv_id


def test_another_caller_sees_nothing_of_it(keyed: LiveServer) -> None:
    mine = ask(keyed, "What is a confusion matrix?", KEY_A)["conversation_id"]
    unknown = uuid.uuid4().hex
    assert mine not in listed(keyed, KEY_B)
    for path in (f"/v1/conversations/{mine}", f"/v1/conversations/{mine}/export"):
        theirs = get(keyed, path, KEY_B)
        never = get(keyed, path.replace(mine, unknown), KEY_B)
        # Another caller's conversation answers exactly as one that does not exist.
        assert theirs.status_code == never.status_code == 404
        assert (
            theirs.json()["error"]["message"].replace(mine, unknown)
            == never.json()["error"]["message"]
        )
    assert (
        httpx.delete(f"{keyed.url}/v1/conversations/{mine}", headers=headers(KEY_B)).status_code
        == 404
    )
    assert mine in listed(keyed, KEY_A)  # untouched
    # Presenting its id to /v1/ask starts B's own conversation, as before.
    assert ask(keyed, FOLLOW, KEY_B, conversation_id=mine)["conversation_id"] != mine
    assert get(keyed, f"/v1/conversations/{mine}", KEY_A).json()["turn_count"] == 2
    # Without a key nothing is listed at all.
    assert get(keyed, "/v1/conversations").status_code == 401


def test_visitors_sharing_a_public_key_are_told_apart(keyed: LiveServer) -> None:
    # A public key is every visitor of a site: each gets a learner id, and owns only that.
    r1 = get(keyed, "/v1/conversations", PUBLIC)
    r2 = get(keyed, "/v1/conversations", PUBLIC)
    v1, v2 = r1.headers["x-learner-id"], r2.headers["x-learner-id"]
    assert v1 != v2 and r1.json() == {"conversations": [], "next_cursor": None}
    conv = ask(keyed, "What is gradient descent?", PUBLIC, v1)["conversation_id"]
    assert listed(keyed, PUBLIC, v1) == [conv]
    assert listed(keyed, PUBLIC, v2) == [] and listed(keyed, KEY_A, v1).count(conv) == 0
    assert get(keyed, f"/v1/conversations/{conv}", PUBLIC, v2).status_code == 404
    # The key without a learner id owns nothing: it gets a new learner id, and an empty list.
    bare = get(keyed, "/v1/conversations", PUBLIC)
    assert bare.json()["conversations"] == [] and bare.headers["x-learner-id"] not in (v1, v2)


def test_bad_input_gets_a_clear_4xx_and_loses_nothing(keyed: LiveServer) -> None:
    conv = ask(keyed, "What is overfitting?", KEY_A)["conversation_id"]

    def problem(r: httpx.Response, status: int = 422) -> str:
        assert r.status_code == status, r.text
        return str(r.json()["error"]["message"])

    for bad in ("not-an-id", conv.upper(), conv + "0", "x" * 300):
        message = problem(get(keyed, f"/v1/conversations/{bad}", KEY_A))
        assert "conversation id must be 32 lower-case hex characters" in message
        assert bad[:40] in message
        r = httpx.delete(f"{keyed.url}/v1/conversations/{bad}", headers=headers(KEY_A))
        assert "32 lower-case hex" in problem(r)
    for limit in ("0", "101", "-1", "ten"):
        assert "limit" in problem(get(keyed, "/v1/conversations", KEY_A, limit=limit))
    for cursor in ("garbage", "eyJhIjoxfQ", "W10"):
        message = problem(get(keyed, "/v1/conversations", KEY_A, cursor=cursor))
        assert "cursor must be a next_cursor this server returned" in message and cursor in message
    message = problem(get(keyed, f"/v1/conversations/{conv}/export", KEY_A, format="pdf"))
    assert "format" in message and "markdown" in message
    r = httpx.post(f"{keyed.url}/v1/conversations/{conv}", headers=headers(KEY_A))
    assert r.status_code == 405
    # Nothing was lost or changed by any of it.
    assert get(keyed, f"/v1/conversations/{conv}", KEY_A).json()["turn_count"] == 2
    assert conv in listed(keyed, KEY_A)


# ----------------------------------------------------------------------------- Redis lost it
@pytest.fixture(scope="module")
def redis_service(corpus_index, embedder, tmp_path_factory, redis_url) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """No keys, the answer cache and conversation turns in the shared test Redis."""
    settings = make_settings(
        corpus_index,
        tmp_path_factory.mktemp("history-redis"),
        redis_url=redis_url,
        semantic_cache=False,  # this test flushes Redis under it
    )
    with LiveServer(settings, embedder) as srv:
        yield srv


def test_a_resumed_conversation_condenses_from_the_database_after_a_redis_flush(
    redis_service: LiveServer, redis_url: str
) -> None:
    learner = get(redis_service, "/v1/conversations").headers["x-learner-id"]
    first = ask(redis_service, LASSO, learner=learner)
    assert share(first["citations"], "Lasso") > 0
    redis.Redis.from_url(redis_url).flushdb()  # the cache forgets every turn
    follow = ask(redis_service, FOLLOW, learner=learner, conversation_id=first["conversation_id"])
    assert follow["conversation_id"] == first["conversation_id"]
    # "it" was read as Lasso: the previous question came from the database.
    assert share(follow["citations"], "Lasso") >= 0.5, follow["citations"]
    conv = get(redis_service, f"/v1/conversations/{follow['conversation_id']}", learner=learner)
    assert conv.json()["turn_count"] == 4
    # Anonymous callers (no learner id) continue through the cache only, as before: they
    # cannot come back for a list, so nothing of theirs is kept in the database.
    anon = ask(redis_service, LASSO)
    assert (
        ask(redis_service, FOLLOW, conversation_id=anon["conversation_id"])["conversation_id"]
        == anon["conversation_id"]
    )
    assert anon["conversation_id"] not in listed(redis_service, learner=learner)


def test_turns_are_kept_while_redis_is_down(corpus_index, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = make_settings(
        corpus_index, tmp_path, redis_url=dead, api_keys=[KEY_A], semantic_cache=False
    )
    with LiveServer(settings, embedder) as srv:
        first = ask(srv, LASSO, KEY_A)
        assert first["degraded"] is True  # the cache is down, and the answer says so
        follow = ask(srv, FOLLOW, KEY_A, conversation_id=first["conversation_id"])
        assert follow["conversation_id"] == first["conversation_id"]
        assert share(follow["citations"], "Lasso") >= 0.5, follow["citations"]
        conv = get(srv, f"/v1/conversations/{first['conversation_id']}", KEY_A).json()
        assert [t["content"] for t in conv["turns"] if t["role"] == "user"] == [LASSO, FOLLOW]
        assert re.fullmatch(r"[0-9a-f]{32}", conv["id"])
