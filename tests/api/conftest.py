"""Fixtures of the HTTP API tests: a shared live server and the chunks of the served index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.index import CHUNKS, read_chunks, resolve_version_dir
from assistant.types import Chunk
from tests.conftest import LiveServer, make_settings


def chunks_of(index_dir: Path) -> dict[str, Chunk]:
    """chunk_id -> Chunk of the published version of ``index_dir``."""
    _, path = resolve_version_dir(index_dir)
    return {c.chunk_id: c for c in read_chunks(path / CHUNKS)}


@pytest.fixture(scope="session")
def index_chunks(corpus_index: Path) -> dict[str, Chunk]:
    return chunks_of(corpus_index)


@pytest.fixture(scope="module")
def server(corpus_index, embedder, tmp_path_factory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """One default service (extractive, in-process cache, SQLite ledger) per test module."""
    tmp = tmp_path_factory.mktemp("api-server")
    with LiveServer(make_settings(corpus_index, tmp), embedder) as srv:
        yield srv
