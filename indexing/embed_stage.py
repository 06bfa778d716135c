"""The build's embed stage: vectors for the chunks the previous version does not have."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.types import Chunk

EMBED_BATCH = 256  # texts per embed_documents() call; also the progress bar's step

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def embed_missing(
    chunks: list[Chunk],
    known: dict[str, np.ndarray],
    embedder: Any,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int, int]:
    """(N, dim) vectors in chunk order, rows embedded, tokens embedded.

    A chunk whose content hash is in ``known`` takes that vector; identical chunks are
    embedded once. With nothing missing the embedder is never called, so a lazy one
    never loads its model.
    """
    vectors, todo, hashes, texts_by_hash = plan_missing(chunks, known, embedder.dimension)
    embed_tokens = 0
    for start in range(0, len(hashes), EMBED_BATCH):
        batch = hashes[start : start + EMBED_BATCH]
        texts = [texts_by_hash[h] for h in batch]
        out = embedder.embed_documents(texts)
        for h, vec in zip(batch, out, strict=True):
            vectors[todo[h]] = vec
        embed_tokens += sum(embedder.count_tokens(x) for x in texts)
        if progress:
            progress("embed", min(start + EMBED_BATCH, len(hashes)), len(hashes))
    embedded = sum(len(rows) for rows in todo.values())
    return vectors, embedded, embed_tokens


def plan_missing(
    chunks: list[Chunk], known: dict[str, np.ndarray], dimension: int
) -> tuple[np.ndarray, dict[str, list[int]], list[str], dict[str, str]]:
    """(vectors with the known rows filled, hash -> rows to fill, hashes to embed in
    order, hash -> text): the plan both engines follow."""
    vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
    todo: dict[str, list[int]] = {}  # content_hash -> rows
    for row, c in enumerate(chunks):
        vec = known.get(c.content_hash)
        if vec is not None:
            vectors[row] = vec
        else:
            todo.setdefault(c.content_hash, []).append(row)
    # Similar lengths in one call: batches pad to their longest text, and unsorted
    # 256-text groups cost ~10% more model work than one length-sorted pass.
    texts_by_hash = {h: chunks[rows[0]].embed_text() for h, rows in todo.items()}
    hashes = sorted(todo, key=lambda h: len(texts_by_hash[h]))
    return vectors, todo, hashes, texts_by_hash
