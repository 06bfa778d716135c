"""The study coach over real HTTP: the contract, learner ids, isolation and clear 4xx errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer, make_settings

KEY, OTHER = "coach-key-alice", "coach-key-bob"


@pytest.fixture(scope="module")
def keyed(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("coach-keyed")
    with LiveServer(make_settings(corpus_index, tmp, api_keys=[KEY, OTHER]), embedder) as srv:
        yield srv


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_quiz_answer_progress_next_contract(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/v1/quizzes", json={"phase": 4, "n": 3}, timeout=60)
    assert r.status_code == 200, r.text
    learner = r.headers["X-Learner-Id"]
    quiz = r.json()
    assert set(quiz) == {"quiz_id", "questions"} and len(quiz["questions"]) == 3
    for q in quiz["questions"]:
        assert q["type"] in {"mcq", "short", "cloze"} and q["phase"] == 4 and q["topic"]
        assert (q["options"] is not None) == (q["type"] == "mcq")
    answers = [{"id": q["id"], "answer": "I do not know"} for q in quiz["questions"]]
    h = {"X-Learner-Id": learner}
    r = httpx.post(
        f"{server.url}/v1/quizzes/{quiz['quiz_id']}/answers",
        json={"answers": answers},
        headers=h,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    for res in body["results"]:
        assert set(res) >= {"id", "correct", "score", "expected", "explanation", "citation"}
        assert res["correct"] is False and res["citation"]["source"].startswith("notes/")
    assert next(p for p in body["progress"] if p["phase"] == 4)["cards"] == 3

    progress = httpx.get(f"{server.url}/v1/progress", headers=h, timeout=30).json()
    assert [p["phase"] for p in progress["phases"]] == list(range(1, 10))
    nxt = httpx.get(f"{server.url}/v1/next", headers=h, timeout=30).json()
    assert set(nxt) == {"phase", "topic", "reason", "citation"} and nxt["phase"] == 1
    assert nxt["citation"]["source"].endswith("roadmap.md")
    assert "/v1/quizzes" in httpx.get(f"{server.url}/openapi.json").json()["paths"]


def test_learner_ids_are_issued_and_made_up_ids_are_not_trusted(server: LiveServer) -> None:
    first = httpx.get(f"{server.url}/v1/progress", timeout=30).headers["X-Learner-Id"]
    again = httpx.get(f"{server.url}/v1/progress", headers={"X-Learner-Id": first}, timeout=30)
    assert again.headers["X-Learner-Id"] == first
    forged = "0" * 32
    r = httpx.get(f"{server.url}/v1/progress", headers={"X-Learner-Id": forged}, timeout=30)
    assert r.headers["X-Learner-Id"] not in (forged, first)


def test_errors_are_clear_and_in_the_one_format(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/v1/quizzes", json={"n": 2}, timeout=60)
    learner, quiz = r.headers["X-Learner-Id"], r.json()
    h = {"X-Learner-Id": learner}
    url = f"{server.url}/v1/quizzes/{quiz['quiz_id']}/answers"
    bad = httpx.post(url, json={"answers": [{"id": "nope", "answer": "x"}]}, headers=h)
    assert bad.status_code == 422 and "not part of quiz" in bad.json()["error"]["message"]
    ok = [{"id": quiz["questions"][0]["id"], "answer": "x"}]
    assert httpx.post(url, json={"answers": ok}, headers=h, timeout=60).status_code == 200
    twice = httpx.post(url, json={"answers": ok}, headers=h, timeout=60)
    assert twice.status_code == 409 and twice.json()["error"]["type"] == "conflict"
    # Another learner (no header: a fresh one) cannot see or answer the quiz.
    other = httpx.post(url, json={"answers": ok}, timeout=60)
    assert other.status_code == 404 and other.json()["error"]["type"] == "not_found"
    assert httpx.post(f"{server.url}/v1/quizzes", json={"phase": 42}).status_code == 422
    assert httpx.post(f"{server.url}/v1/quizzes", json={"n": 500}).status_code == 422


def test_with_api_keys_the_key_is_the_learner(keyed: LiveServer) -> None:
    assert httpx.post(f"{keyed.url}/v1/quizzes", json={"n": 1}).status_code == 401
    r = httpx.post(f"{keyed.url}/v1/quizzes", json={"n": 2}, headers=_auth(KEY), timeout=60)
    quiz = r.json()
    answers = [{"id": q["id"], "answer": "x"} for q in quiz["questions"]]
    url = f"{keyed.url}/v1/quizzes/{quiz['quiz_id']}/answers"
    stolen = httpx.post(url, json={"answers": answers}, headers=_auth(OTHER), timeout=60)
    assert stolen.status_code == 404
    mine = httpx.post(url, json={"answers": answers}, headers=_auth(KEY), timeout=60)
    assert mine.status_code == 200
    theirs = httpx.get(f"{keyed.url}/v1/progress", headers=_auth(OTHER), timeout=30).json()
    assert sum(p["cards"] for p in theirs["phases"]) == 0
    own = httpx.get(f"{keyed.url}/v1/progress", headers=_auth(KEY), timeout=30).json()
    assert sum(p["cards"] for p in own["phases"]) == 2
