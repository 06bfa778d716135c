"""Cached answers across a real incremental rebuild: only answers built on changed passages go."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import chunks_of
from tests.conftest import CORPUS, LiveServer, build_corpus_index, make_settings

ADMIN = {"X-API-Key": "rebuild-admin"}
Q1 = "What is Lasso regression?"  # topic A: notes/phase-5-core-ml.md, section Lasso
Q2 = "How do Python generators save memory?"  # topic B: Phase 1 material only
EDITED = "notes/phase-5-core-ml.md"
ADDED = "Lasso regression is linear regression that sets unhelpful coefficients to exactly zero."


def ask(c: httpx.Client, question: str) -> dict[str, Any]:
    r = c.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_rebuild_invalidates_only_changed_answers(
    corpus_index: Path,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    shutil.copytree(corpus_index, index)  # the corpus copy, already built
    settings = make_settings(index, tmp_path, corpus_dir=corpus, admin_key="rebuild-admin")
    with LiveServer(settings, embedder) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        old_version = srv.assistant.snapshot.version
        a1, a2 = ask(c, Q1), ask(c, Q2)
        assert (a1["cache"], a2["cache"]) == ("miss", "miss")
        assert {x["cache"] for x in (ask(c, Q1), ask(c, Q2))} == {"hit"}
        assert any(x["source"] == EDITED and "Lasso" in x["section"] for x in a1["citations"])
        q2_sources = {
            r["source"] for r in c.post("/v1/search", json={"query": Q2, "k": 5}).json()["results"]
        }
        assert EDITED not in q2_sources and a2["citations"], q2_sources

        # Edit the section Q1's passages came from, rebuild incrementally, reload.
        path = corpus / EDITED
        text = path.read_text(encoding="utf-8")
        anchor = "**Core idea.** Lasso (Least Absolute Shrinkage"
        assert anchor in text
        path.write_text(text.replace(anchor, f"{ADDED}\n\n{anchor}"), encoding="utf-8")
        report = build_corpus_index(embedder, corpus, index)
        assert report.published and 0 < report.embedded < 20 and report.reused > 300
        assert httpx.post(srv.url + "/v1/admin/reload").status_code == 403
        reload = c.post("/v1/admin/reload", headers=ADMIN).json()
        assert reload == {"reloaded": True, "index_version": report.version}

        new1 = ask(c, Q1)
        assert new1["cache"] == "miss" and new1["index_version"] == report.version
        assert new1["index_version"] != old_version
        assert ADDED in new1["answer"], new1["answer"]
        new_chunks = chunks_of(index)
        assert all(x["chunk_id"] in new_chunks for x in new1["citations"])
        assert ask(c, Q1)["cache"] == "hit"

        new2 = ask(c, Q2)
        assert new2["cache"] == "hit" and new2["index_version"] == report.version
        assert (new2["answer"], new2["citations"]) == (a2["answer"], a2["citations"])
