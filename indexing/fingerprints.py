"""Skip unchanged files: per-source fingerprints and the previous version's chunks and vectors.

Every build records, per corpus file, ``{"size", "mtime_ns", "sha256", "title", "phases"}``
in the manifest. The next build reads each file's bytes and hashes them (milliseconds);
only a file whose hash, title or phases differ is parsed and chunked again (seconds for
a large HTML tree). Size and mtime are recorded too, and a file whose mtime moved but
whose bytes did not counts as ``touched``. The hash decides, not the mtime: an edit
that keeps the size and restores the mtime is still seen. URL sources are always
loaded (the fetcher's HTTP cache makes that cheap). Vectors are reused by chunk
content hash, so a moved or copied passage is not embedded again either.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.index import (
    CHUNKS,
    EMBEDDINGS,
    MANIFEST,
    VERSIONS,
    Manifest,
    current_version,
    load_embeddings,
    read_chunks,
    verify_files,
)
from assistant.types import Chunk, Document
from indexing.chunking import TokenChunker
from indexing.loaders import SkippedSource
from indexing.sources import SourceItem

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def file_fingerprint(item: SourceItem, data: bytes, mtime_ns: int) -> dict[str, Any]:
    """What decides whether a file's chunks can be reused (title/phases change chunks too)."""
    return {
        "size": len(data),
        "mtime_ns": mtime_ns,
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": item.title,
        "phases": list(item.phases),
    }


def same_content(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    if not old:
        return False
    keys = ("size", "sha256", "title", "phases")
    return all(old.get(k) == new[k] for k in keys)


@dataclass(slots=True)
class Previous:
    """What the published version offers for reuse (empty when incompatible)."""

    by_hash: dict[str, np.ndarray] = field(default_factory=dict)  # content_hash -> vector
    by_source: dict[str, list[Chunk]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_hashes: dict[str, str] = field(default_factory=dict)  # manifest "sources"
    reason: str | None = None  # why nothing is reused


def read_previous(
    index_dir: Path, model: dict[str, Any], backend: str, chunking: dict[str, Any]
) -> Previous:
    """Vectors, chunks and fingerprints of the published version, if built compatibly."""
    try:
        version = current_version(index_dir)
    except IndexCorruptError as exc:  # a damaged `current` is what a rebuild repairs
        return Previous(reason=f"previous index unreadable: {exc}")
    if version is None:
        return Previous(reason="no previous index")
    path = index_dir / VERSIONS / version
    try:
        manifest = Manifest.read(path / MANIFEST)
        # Damaged vectors would otherwise be copied into every later version.
        verify_files(path, manifest)
        if manifest.model != model:
            name = manifest.model.get("name")
            return Previous(reason=f"embedding model changed ({name} -> {model['name']})")
        if manifest.embedding_backend != backend:
            return Previous(
                reason=f"embedding backend changed ({manifest.embedding_backend} -> {backend})"
            )
        if manifest.chunking != chunking:
            return Previous(reason="chunking settings changed")
        chunks = read_chunks(path / CHUNKS)
        vectors = load_embeddings(path / EMBEDDINGS)
    except (IndexCorruptError, OSError) as exc:
        return Previous(reason=f"previous index unreadable: {exc}")
    if len(chunks) != len(vectors):
        return Previous(reason="previous index has mismatched vectors")
    by_source: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    return Previous(
        by_hash={c.content_hash: vectors[i] for i, c in enumerate(chunks)},
        by_source=by_source,
        fingerprints=manifest.fingerprints,
        source_hashes=manifest.sources,
    )


@dataclass(slots=True)
class Loaded:
    """The corpus as chunks, with what was read, parsed and reused to get there."""

    chunks: list[Chunk] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source -> sha256 of its text
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    parsed: int = 0  # sources loaded and chunked in this build
    unchanged: int = 0  # files whose chunks were taken from the previous version
    touched: int = 0  # of those, files whose mtime changed but bytes did not
    chunk_s: float = 0.0  # seconds spent chunking (the rest of the stage is reading/parsing)


def text_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode()).hexdigest()


def load_and_chunk(
    items: list[SourceItem],
    previous: Previous,
    chunker: TokenChunker,
    load: Callable[[SourceItem], Document],
    *,
    max_bytes: int,
    progress: Progress | None = None,
) -> Loaded:
    """Chunks of every source in order; unchanged files reuse the previous version's chunks.

    ``load(item)`` parses one source and raises ``SkippedSource`` for bad content; files
    over ``max_bytes`` go straight to it (it refuses them) without being read here.
    """
    out = Loaded()
    for i, item in enumerate(items):
        try:
            _one(item, previous, chunker, load, max_bytes, out)
        except SkippedSource as exc:
            out.skipped.append((item.source, exc.reason))
            # INFO: the build report lists every skip (the CLI prints it, the manifest keeps it)
            logger.info("skipped %s: %s", item.source, exc.reason)
        if progress:
            progress("load", i + 1, len(items))
    return out


def _one(
    item: SourceItem,
    previous: Previous,
    chunker: TokenChunker,
    load: Callable[[SourceItem], Document],
    max_bytes: int,
    out: Loaded,
) -> None:
    fp = _fingerprint(item, max_bytes)
    if fp is not None:
        old = previous.fingerprints.get(item.source)
        reusable = previous.by_source.get(item.source)
        if reusable and item.source in previous.source_hashes and same_content(old, fp):
            assert old is not None
            out.chunks.extend(reusable)
            out.sources[item.source] = previous.source_hashes[item.source]
            out.fingerprints[item.source] = fp
            out.unchanged += 1
            out.touched += old.get("mtime_ns") != fp["mtime_ns"]
            return
    doc = load(item)
    out.parsed += 1
    t = time.perf_counter()
    out.chunks.extend(chunker.chunk(doc))
    out.chunk_s += time.perf_counter() - t
    out.sources[doc.source] = text_hash(doc)
    if fp is not None:
        out.fingerprints[item.source] = fp


def _fingerprint(item: SourceItem, max_bytes: int) -> dict[str, Any] | None:
    """The file's fingerprint; None for URLs and for what the loader must refuse itself."""
    if item.path is None or not item.path.is_file():
        return None
    try:
        st = item.path.stat()
        if st.st_size > max_bytes:
            return None
        data = item.path.read_bytes()
    except OSError:
        return None  # the loader reports it with its own reason
    return file_fingerprint(item, data, st.st_mtime_ns)
