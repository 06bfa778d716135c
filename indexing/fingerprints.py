"""Skip unchanged files: per-source fingerprints and the previous version's chunks and vectors.

Every build records, per corpus file, ``{"size", "mtime_ns", "sha256", "title", "phases"}``
in the manifest. The next build reads each file's bytes once and hashes them
(milliseconds); only a file whose hash, title or phases differ is parsed and chunked
again (seconds for a large HTML tree), from those same bytes. Size and mtime are recorded too, and a file whose mtime moved but
whose bytes did not counts as ``touched``. The hash decides, not the mtime: an edit
that keeps the size and restores the mtime is still seen. A URL source is fetched (from
the fetcher's cache, without the network while a copy is fresh) and fingerprinted the
same way, by its body, final URL and content type: an unchanged page is not parsed
again either. Vectors are reused by chunk content hash, so a moved or copied passage is
not embedded again either.
"""

from __future__ import annotations

import hashlib
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
from indexing.sources import SourceItem


def file_fingerprint(item: SourceItem, data: bytes, mtime_ns: int) -> dict[str, Any]:
    """What decides whether a file's chunks can be reused (title/phases change chunks too)."""
    return {
        "size": len(data),
        "mtime_ns": mtime_ns,
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": item.title,
        "phases": list(item.phases),
    }


def url_fingerprint(
    item: SourceItem, body: bytes, final_url: str, content_type: str | None
) -> dict[str, Any]:
    """A fetched page's: its bytes, and where and as what they came (both shape the chunks)."""
    return {
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "title": item.title,
        "phases": list(item.phases),
        "final_url": final_url,
        "content_type": content_type,
    }


def same_content(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    if not old:
        return False
    keys = ("size", "sha256", "title", "phases", "final_url", "content_type")
    return all(old.get(k) == new.get(k) for k in keys)


@dataclass(slots=True)
class Previous:
    """What the published version offers for reuse (empty when incompatible)."""

    by_hash: dict[str, np.ndarray] = field(default_factory=dict)  # content_hash -> vector
    by_source: dict[str, list[Chunk]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    source_hashes: dict[str, str] = field(default_factory=dict)  # manifest "sources"
    reason: str | None = None  # why nothing is reused
    chunks: list[Chunk] = field(default_factory=list)  # the published version's, in order
    manifest: Manifest | None = None  # the published version's (None when nothing is reused)


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
        chunks=chunks,
        manifest=manifest,
    )


def text_hash(doc: Document) -> str:
    return hashlib.sha256(doc.text.encode()).hexdigest()


def read_file(item: SourceItem, max_bytes: int) -> tuple[dict[str, Any] | None, bytes | None]:
    """The file's fingerprint and the bytes it hashed, read once; (None, None) for URLs and
    for what the loader must refuse itself (missing, unreadable, over ``max_bytes``)."""
    if item.path is None or not item.path.is_file():
        return None, None
    try:
        st = item.path.stat()
        if st.st_size > max_bytes:
            return None, None
        with item.path.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat
    except OSError:
        return None, None  # the loader reports it with its own reason
    if len(data) > max_bytes:
        return None, None
    return file_fingerprint(item, data, st.st_mtime_ns), data


def reusable(
    item: SourceItem, fp: dict[str, Any] | None, previous: Previous
) -> tuple[list[Chunk], str, bool] | None:
    """(chunks, text hash, touched) of the previous version when the file did not change."""
    if fp is None:
        return None
    old = previous.fingerprints.get(item.source)
    chunks = previous.by_source.get(item.source)
    if not chunks or item.source not in previous.source_hashes or not same_content(old, fp):
        return None
    assert old is not None
    return chunks, previous.source_hashes[item.source], old.get("mtime_ns") != fp.get("mtime_ns")
