"""IndexSearcher on a tiny real index: reload, validation, search, fixed snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import BadInputError, IndexNotBuiltError
from assistant.retrieval import HybridRetriever
from assistant.searcher import IndexSearcher
from tests.conftest import build_corpus_index

NOTES = {
    "ridge.md": "# Ridge\n\nRidge regression adds an L2 penalty on the weights.\n",
    "docker.md": "# Docker\n\nA Dockerfile describes how to build a container image.\n",
}


@pytest.fixture(scope="module")
def tiny_index(embedder, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    corpus = tmp_path_factory.mktemp("tiny-corpus")
    for name, text in NOTES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("tiny-index")
    build_corpus_index(embedder, corpus, index_dir)
    return index_dir


def test_no_index_is_index_not_built(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    searcher = IndexSearcher(embedder, HybridRetriever(), index_dir=tmp_path)
    assert searcher.reload() is False and searcher.loaded is None
    with pytest.raises(IndexNotBuiltError, match="assistant index build"):
        searcher.search("ridge")


def test_reload_search_and_validation(embedder, tiny_index: Path) -> None:  # type: ignore[no-untyped-def]
    searcher = IndexSearcher(embedder, HybridRetriever(), index_dir=tiny_index, max_query_chars=50)
    assert searcher.reload() is True and searcher.reload() is False
    assert searcher.reload(force=True) is True
    hits, version = searcher.search("what does a Dockerfile describe?", 1)
    assert version == searcher.snapshot.version and hits[0].chunk.source == "docker.md"
    with pytest.raises(BadInputError, match="query must not be empty"):
        searcher.search("   ")
    with pytest.raises(BadInputError, match="query is 51 characters, the limit is 50"):
        searcher.search("x" * 51)
    with pytest.raises(BadInputError, match="k must be between 1 and 50, got 0"):
        searcher.search("ridge", 0)
    filtered, _ = searcher.search("penalty", 2, sources=["docker.md"])
    assert {h.chunk.source for h in filtered} == {"docker.md"}


def test_a_query_is_embedded_once_and_fixed_snapshots_serve(embedder, tiny_index: Path) -> None:  # type: ignore[no-untyped-def]
    searcher = IndexSearcher(embedder, HybridRetriever(), index_dir=tiny_index)
    searcher.reload()
    query = searcher.query("ridge penalty")
    assert not query.embedded and query.embed_ms == 0.0
    vector = query.vector
    assert query.embedded and query.vector is vector and vector.shape == (embedder.dimension,)
    fixed = IndexSearcher.fixed(searcher.snapshot, embedder, HybridRetriever())
    hits = fixed.retrieve(fixed.snapshot, query, 1)
    assert hits[0].chunk.source == "ridge.md"
    assert fixed.search("ridge penalty", 1)[1] == searcher.snapshot.version
