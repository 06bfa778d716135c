"""What runs on the Ray cluster's workers: parse + chunk one source, embed batches.

Plain functions and a plain class; ``indexing.ray_engine`` wraps them with ``ray.remote``
(so importing this module needs no Ray). Workers import this package, so every node runs
the same code as the publishing process (the same image, or the same checkout on
PYTHONPATH).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.types import Chunk, Document
from indexing.chunking import TokenChunker
from indexing.fingerprints import text_hash
from indexing.loaders import SkippedSource, load_file


@dataclass(slots=True, frozen=True)
class FileBytes:
    """A corpus file as the publishing process read it: workers need no corpus mount."""

    name: str  # the file's own name: its suffix picks the parser, its stem is a title fallback
    data: bytes
    source: str
    title: str | None
    phases: tuple[int, ...]


@dataclass(slots=True)
class Parsed:
    """One source's chunks, or why it was skipped."""

    chunks: list[Chunk]
    text_hash: str = ""  # sha256 of the document's text (the manifest's "sources")
    skipped: str | None = None
    chunk_s: float = 0.0


def parse_and_chunk(payload: FileBytes | Document, chunker: TokenChunker, max_bytes: int) -> Parsed:
    """Parse a file's bytes exactly as ``load_file`` parses the file, then chunk it."""
    try:
        if isinstance(payload, Document):
            doc = payload  # a URL source, fetched by the publishing process
        else:
            with tempfile.TemporaryDirectory(prefix="assistant-load-") as tmp:
                path = Path(tmp) / payload.name
                path.write_bytes(payload.data)
                doc = load_file(
                    path,
                    payload.source,
                    max_bytes=max_bytes,
                    title=payload.title,
                    phases=payload.phases,
                )
    except SkippedSource as exc:
        return Parsed(chunks=[], skipped=exc.reason)
    t = time.perf_counter()
    chunks = chunker.chunk(doc)
    return Parsed(
        chunks=chunks,
        text_hash=text_hash(doc),
        chunk_s=time.perf_counter() - t,
    )


class EmbedActor:
    """Loads the embedder once, then embeds batch after batch on its node (its GPU if any)."""

    def __init__(self, make_embedder: Callable[[], Any]) -> None:
        self.embedder = make_embedder()

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """((n, dim) float32 vectors, tokens embedded)."""
        vectors = np.asarray(self.embedder.embed_documents(list(texts)), dtype=np.float32)
        return vectors, sum(self.embedder.count_tokens(t) for t in texts)
