"""The real corpus's chunks exactly as the build makes them, without embedding anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.types import Chunk

CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def corpus_chunks(embedder: Any, corpus: Path = CORPUS) -> list[Chunk]:
    from indexing.build import _load_item, resolve_sources
    from indexing.chunking import TokenChunker
    from indexing.loaders.common import SkippedSource

    docs = []
    for item in resolve_sources(corpus).items:
        try:
            docs.append(_load_item(item, None, 50_000_000))
        except SkippedSource:
            continue  # URL sources: offline
    return TokenChunker(embedder.tokenizer, 200, 32).chunk_all(docs)
