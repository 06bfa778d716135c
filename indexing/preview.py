"""The chunks a build would make from a corpus, without embedding or publishing anything.

Used to look at chunking and by tools that need the passages but not the vectors (the
coach's grading benchmark, tests of question generation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.types import Chunk
from indexing.chunking import TokenChunker
from indexing.loaders import SkippedSource, load_file
from indexing.sources import resolve_sources


def chunk_corpus(
    corpus: Path, tokenizer: Any, chunk_size: int = 200, chunk_overlap: int = 32
) -> list[Chunk]:
    """Every chunk of the corpus's local sources (URL sources are skipped: no fetcher)."""
    docs = []
    for item in resolve_sources(corpus).items:
        if item.path is None:
            continue
        try:
            docs.append(
                load_file(
                    item.path,
                    item.source,
                    max_bytes=50_000_000,
                    title=item.title,
                    phases=item.phases,
                )
            )
        except SkippedSource:
            continue
    return TokenChunker(tokenizer, chunk_size, chunk_overlap).chunk_all(docs)
