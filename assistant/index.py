"""The index on disk, shared by the build job (writer) and the service (reader).

Layout of ``<index_dir>``::

    current                 text file naming the published version (swapped atomically)
    published               every version ever made current, oldest first (one per line)
    versions/<version>/     one complete, immutable build
        manifest.json       model, dimension, chunking, counts, per-source and per-file hashes
        chunks.jsonl        one Chunk per line, row order = vector order
        embeddings.npy      (N, dim) float32, unit rows; reused by incremental builds
        vectors.faiss       FAISS inner-product index (flat, HNSW or IVF-PQ) over the same rows
        bm25/               bm25s sparse index (numpy arrays + JSON vocab)
    .build.lock             held by a running build
    tmp-<id>/versions/<id>/ a build in progress, evaluated there before it moves into
                            versions/ (removed by the next build if it died)

Only versions named in ``published`` (or ``current``) are kept by a build; anything
else in ``versions/`` is a leftover of a build killed before it published.

Nothing in it is a pickle: numpy files are loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError, IndexNotBuiltError
from assistant.types import Chunk

logger = logging.getLogger(__name__)

INDEX_FORMAT = 1
CURRENT = "current"
VERSIONS = "versions"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
EMBEDDINGS = "embeddings.npy"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
# The study coach's question bank of this version, made at build time (versions built before
# it have none: the coach then makes the same bank from the chunks on first use).
QUIZZES = "quizzes.json"
PUBLISHED = "published"
# Data files every version must list with a checksum; any other file on disk must be
# listed too (the BM25 arrays), so a manifest cannot switch verification off.
REQUIRED_FILES = (CHUNKS, EMBEDDINGS, VECTORS)
_VERSION_RE = re.compile(r"^[0-9A-Za-z_.-]+$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_version(index_dir: Path) -> str | None:
    """The published version id, or None when nothing has been published."""
    try:
        version = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not _VERSION_RE.match(version):
        raise IndexCorruptError(f"{index_dir / CURRENT} names an invalid version {version!r}")
    return version


def publish_version(index_dir: Path, version: str) -> None:
    """Point ``current`` at ``version``: write a temp file, fsync, rename (atomic on POSIX)."""
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(version + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_dir(index_dir)


def read_published(index_dir: Path) -> list[str] | None:
    """Versions ever made current, oldest first; None for an index dir older than the record."""
    try:
        lines = (index_dir / PUBLISHED).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    return [v for v in (line.strip() for line in lines) if _VERSION_RE.match(v)]


def list_versions(index_dir: Path) -> list[str]:
    root = index_dir / VERSIONS
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


@dataclass(slots=True)
class Manifest:
    """What an index version is made of; the service checks it before serving."""

    version: str
    created_at: str
    model: dict[str, Any]  # {"name", "dimension", "max_seq_length"}
    chunking: dict[str, Any]  # {"chunk_size", "chunk_overlap", "unit": "tokens", "splitter"}
    index_type: str  # "flat" | "hnsw" | "ivfpq"
    counts: dict[str, int]  # chunks, sources, embedded, reused, skipped
    sources: dict[str, str]  # source -> sha256 of its loaded text
    files: dict[str, str] = field(default_factory=dict)  # relative file -> sha256
    embed_tokens: int = 0
    stats: dict[str, Any] = field(default_factory=dict)  # build report: seconds per stage, skips
    # source -> {"size", "mtime_ns", "sha256" of the raw bytes, "chunks": [row, ...]}: what
    # the next build compares to skip unchanged files (indexing/fingerprints.py).
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    # torch | onnx | onnx-int8: queries must be embedded by the runtime that embedded the
    # documents (int8 vectors are close to float ones, not equal). Older indexes: torch.
    embedding_backend: str = "torch"
    # Every parameter the dense index was built and is searched with, and the thresholds
    # that chose its type (assistant/index_plan.py). Older indexes: {} (the kind's defaults).
    index_params: dict[str, Any] = field(default_factory=dict)
    format: int = INDEX_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "version": self.version,
            "created_at": self.created_at,
            "model": self.model,
            "chunking": self.chunking,
            "index_type": self.index_type,
            "index_params": self.index_params,
            "counts": self.counts,
            "embed_tokens": self.embed_tokens,
            "sources": self.sources,
            "files": self.files,
            "stats": self.stats,
            "fingerprints": self.fingerprints,
            "embedding_backend": self.embedding_backend,
        }

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                version=d["version"],
                created_at=d["created_at"],
                model=d["model"],
                chunking=d["chunking"],
                index_type=d["index_type"],
                counts=d["counts"],
                sources=d["sources"],
                files=d.get("files", {}),
                embed_tokens=d.get("embed_tokens", 0),
                stats=d.get("stats", {}),
                fingerprints=d.get("fingerprints") or {},
                embedding_backend=d.get("embedding_backend", "torch"),
                index_params=d.get("index_params") or {},
                format=d.get("format", 0),
            )
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{path} is missing") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{path} is not a valid manifest: {exc}") from exc


def read_chunks(path: Path) -> list[Chunk]:
    chunks = []
    try:
        f = path.open(encoding="utf-8")
    except OSError as exc:
        raise IndexCorruptError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    with f:
        for lineno, line in enumerate(f, start=1):
            try:
                chunks.append(Chunk.from_json(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise IndexCorruptError(f"{path}:{lineno} is not a valid chunk: {exc}") from exc
    return chunks


def write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")


def load_embeddings(path: Path, mmap: bool = False) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} cannot be read: {exc}") from exc
    if arr.dtype != np.float32 or arr.ndim != 2:
        raise IndexCorruptError(f"{path} holds {arr.dtype} {arr.shape}, expected float32 (N, dim)")
    return arr


def resolve_version_dir(index_dir: Path, version: str | None = None) -> tuple[str, Path]:
    """The directory of ``version`` (default: the published one), or IndexNotBuiltError."""
    version = version or current_version(index_dir)
    if version is None:
        raise IndexNotBuiltError(
            f"no index has been published in {index_dir}: run `assistant index build`"
        )
    path = index_dir / VERSIONS / version
    if not path.is_dir():
        raise IndexCorruptError(f"{index_dir / CURRENT} names {version!r} but {path} is missing")
    return version, path


def verify_files(path: Path, manifest: Manifest) -> None:
    """Every data file of the version is listed in the manifest, exists and matches its sha256."""
    if manifest.format != INDEX_FORMAT:
        raise IndexCorruptError(
            f"{path} has index format {manifest.format}, this version reads {INDEX_FORMAT}: rebuild it"
        )
    on_disk = {
        f.relative_to(path).as_posix()
        for f in path.rglob("*")
        if f.is_file() and f.name != MANIFEST
    }
    unlisted = sorted((set(REQUIRED_FILES) | on_disk) - set(manifest.files))
    if unlisted:
        raise IndexCorruptError(
            f"{path / MANIFEST} has no checksum for {', '.join(unlisted)}: "
            "an index that cannot be verified is not served; rebuild it"
        )
    for rel, digest in manifest.files.items():
        f = path / rel
        if not f.is_file():
            raise IndexCorruptError(f"{f} is missing (listed in the manifest)")
        if sha256_file(f) != digest:
            raise IndexCorruptError(
                f"{f} does not match its checksum in the manifest: rebuild the index"
            )
