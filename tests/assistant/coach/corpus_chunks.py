"""The real corpus's chunks exactly as the build makes them, without embedding anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.types import Chunk

CORPUS = Path(__file__).resolve().parents[3] / "corpus"


def corpus_chunks(embedder: Any, corpus: Path = CORPUS) -> list[Chunk]:
    from indexing.preview import chunk_corpus

    return chunk_corpus(corpus, embedder.tokenizer)
