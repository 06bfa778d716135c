"""The build's write stage: a version's files, or none when it would be the published one.

``write_version`` writes chunks, vectors, the FAISS and BM25 indexes and the coach's
question bank into a staging dir, fsyncs and checksums each file (the manifest's
``files``). ``same_as_published`` tells a build that its chunks are the published
version's, so that it writes and publishes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from assistant.coach import build_bank, extract_topics
from assistant.index import (
    BM25_DIR,
    CHUNKS,
    EMBEDDINGS,
    INDEX_FORMAT,
    QUIZZES,
    VECTORS,
    fsync_dir,
    sha256_file,
    write_chunks,
)
from assistant.sparse import Bm25Index
from assistant.types import Chunk
from assistant.vectorstore import FaissIndex
from indexing.fingerprints import Previous
from indexing.load_stage import Loaded


def write_version(
    tmp: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    kind: str,
    index_params: dict[str, Any] | None = None,
) -> dict[str, str]:
    write_chunks(tmp / CHUNKS, chunks)
    np.save(tmp / EMBEDDINGS, vectors, allow_pickle=False)
    FaissIndex.build(vectors, kind, index_params).save(tmp / VECTORS)
    Bm25Index.build([c.embed_text() for c in chunks]).save(tmp / BM25_DIR)
    # The coach's questions, deterministic for these chunks, checksummed like every file.
    bank = [q.to_json() for q in build_bank(extract_topics(chunks))]
    (tmp / QUIZZES).write_text(json.dumps(bank, ensure_ascii=False), encoding="utf-8")
    files: dict[str, str] = {}
    for f in sorted(tmp.rglob("*")):
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
            files[f.relative_to(tmp).as_posix()] = sha256_file(f)
    fsync_dir(tmp / BM25_DIR)
    fsync_dir(tmp)
    return files


def same_as_published(
    previous: Previous,
    loaded: Loaded,
    skipped: list[tuple[str, str]],
    kind: str,
    index_params: dict[str, Any],
) -> bool:
    """Whether this build would publish what is published: the same chunks in the same
    order (ids, text, metadata), from the same sources, with the same ones skipped, into
    the same kind of index. Then it publishes nothing (``--full`` always writes)."""
    m = previous.manifest
    if m is None or previous.reason is not None:
        return False
    skipped_before = {s["source"] for s in m.stats.get("skipped", [])}
    return (
        # A source fingerprinted now but not then (a URL source, in a version made before
        # URLs had fingerprints): publish once to record it, or it is parsed every build.
        set(loaded.fingerprints) <= set(m.fingerprints)
        and loaded.chunks == previous.chunks
        and loaded.sources == m.sources
        and {source for source, _ in skipped} == skipped_before
        and (kind, index_params) == (m.index_type, m.index_params)
        and m.format == INDEX_FORMAT
    )
