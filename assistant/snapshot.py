"""One loaded, verified index version: chunks, dense vectors and BM25, ready to search."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embeddings import canonical_model_name
from assistant.errors import BadInputError, IndexCorruptError, IndexNotBuiltError
from assistant.filters import RowFilter
from assistant.index import (
    BM25_DIR,
    CHUNKS,
    EMBEDDINGS,
    MANIFEST,
    QUIZZES,
    VECTORS,
    Manifest,
    current_version,
    list_versions,
    load_embeddings,
    read_chunks,
    read_published,
    resolve_version_dir,
    verify_files,
)
from assistant.passages import PassageIndex
from assistant.sparse import Bm25Index
from assistant.types import Chunk
from assistant.vectorstore import FaissIndex

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class IndexSnapshot:
    """An immutable published version; swapped as a whole on reload."""

    version: str
    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    dense: FaissIndex
    sparse: Bm25Index
    chunk_ids: frozenset[str]
    phases: np.ndarray  # (N, 10) bool: row r is tagged with phase p
    sources: np.ndarray  # (N,) object: source of each row
    filters: RowFilter  # row ids per source / folder / phase, so filters never scan all rows
    passages: PassageIndex  # chunk id -> passage and its neighbours (GET /v1/passages/{id})
    quizzes: list[dict[str, Any]] | None = None  # the coach's bank made at build time, if any

    @classmethod
    def load(
        cls,
        index_dir: Path,
        version: str | None = None,
        *,
        model_name: str | None = None,
        dimension: int | None = None,
        backend: str | None = None,
        verify: bool = True,
    ) -> IndexSnapshot:
        """Load and check a version; refuse one built with another model or that is damaged."""
        version, path = resolve_version_dir(index_dir, version)
        manifest = Manifest.read(path / MANIFEST)
        if verify:
            verify_files(path, manifest)
        built_with = canonical_model_name(str(manifest.model.get("name")))
        if model_name is not None and built_with != canonical_model_name(model_name):
            raise IndexCorruptError(
                f"index {version} was built with embedding model {manifest.model.get('name')!r}, "
                f"but the service loaded {model_name!r}: rebuild the index or change "
                "ASSISTANT_EMBEDDING_MODEL"
            )
        built_on = manifest.embedding_backend
        if backend is not None and built_on != backend:
            raise IndexCorruptError(
                f"index {version} was embedded with the {built_on!r} backend, but this process "
                f"embeds queries with {backend!r}: set ASSISTANT_EMBEDDING_BACKEND={built_on} "
                "or rebuild the index"
            )
        if dimension is not None and manifest.model.get("dimension") != dimension:
            raise IndexCorruptError(
                f"index {version} has dimension {manifest.model.get('dimension')}, "
                f"the embedding model gives {dimension}"
            )
        chunks = read_chunks(path / CHUNKS)
        n = manifest.counts.get("chunks")
        if n != len(chunks):
            raise IndexCorruptError(
                f"{path / CHUNKS} holds {len(chunks)} chunks, manifest says {n}"
            )
        # Memory-mapped: IVF-PQ re-scores its shortlist from them; HNSW/IVF-PQ score narrow filters.
        vectors = load_embeddings(path / EMBEDDINGS, mmap=True)
        if len(vectors) != len(chunks):
            raise IndexCorruptError(
                f"{path / EMBEDDINGS} holds {len(vectors)} vectors for {n} chunks"
            )
        try:
            dense = FaissIndex.load(
                path / VECTORS, manifest.index_type, manifest.index_params, vectors
            )
        except BadInputError as exc:  # a recorded parameter this version cannot use
            raise IndexCorruptError(f"{path / MANIFEST}: {exc}") from exc
        if dense.ntotal != len(chunks):
            raise IndexCorruptError(f"{path / VECTORS} holds {dense.ntotal} vectors for {n} chunks")
        if dense.ntotal and dense.dimension != manifest.model.get("dimension"):
            raise IndexCorruptError(f"{path / VECTORS} has dimension {dense.dimension}")
        sparse = Bm25Index.load(path / BM25_DIR, len(chunks))
        phases = np.zeros((len(chunks), 10), dtype=bool)
        for row, c in enumerate(chunks):
            for p in c.phases:
                if 0 <= p < 10:
                    phases[row, p] = True
        logger.info("loaded index %s: %d chunks (%s)", version, len(chunks), manifest.index_type)
        return cls(
            version=version,
            path=path,
            manifest=manifest,
            chunks=chunks,
            dense=dense,
            sparse=sparse,
            chunk_ids=frozenset(c.chunk_id for c in chunks),
            phases=phases,
            sources=np.array([c.source for c in chunks], dtype=object),
            filters=RowFilter.from_chunks(chunks),
            passages=PassageIndex(chunks),
            quizzes=_read_quizzes(path / QUIZZES),
        )

    def allowed_rows(
        self, sources: list[str] | None = None, phases: list[int] | None = None
    ) -> np.ndarray | None:
        """Row ids passing the filters (None = no filter)."""
        return self.filters.rows(sources, phases)


def _read_quizzes(path: Path) -> list[dict[str, Any]] | None:
    """The version's question bank (its checksum was verified with the other files)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} is not a readable question bank: {exc}") from exc
    if not isinstance(data, list):
        raise IndexCorruptError(f"{path} is not a list of questions")
    return data


def load_latest_valid(
    index_dir: Path,
    model_name: str | None = None,
    dimension: int | None = None,
    backend: str | None = None,
) -> tuple[IndexSnapshot | None, list[str]]:
    """The published version if it loads, else the newest earlier published one that does.

    Returns ``(snapshot or None, problems)``: one line per version that failed (and for a
    damaged ``current``), newest first, so a caller can start not-ready or on an older
    version and say why. Nothing published at all is ``(None, [])``.
    """
    problems: list[str] = []
    try:
        current = current_version(index_dir)
    except IndexCorruptError as exc:
        problems.append(str(exc))
        current = None
    history = read_published(index_dir)
    earlier = history if history is not None else list_versions(index_dir)
    candidates = [current] if current else []
    candidates += [v for v in reversed(earlier) if v != current]
    for version in candidates:
        try:
            snap = IndexSnapshot.load(
                index_dir, version, model_name=model_name, dimension=dimension, backend=backend
            )
        except (IndexCorruptError, IndexNotBuiltError) as exc:
            problems.append(f"index version {version} not loaded: {exc}")
            continue
        if problems:
            logger.error(
                "SERVING AN OLDER INDEX VERSION %s: the published one failed to load: %s",
                version,
                "; ".join(problems),
            )
        return snap, problems
    return None, problems
