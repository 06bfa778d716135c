"""Where a build's two heavy stages run: in this process (``local``) or on a Ray cluster.

``build_index`` asks its engine for the corpus as chunks (``load_and_chunk``) and for the
vectors the previous version lacks (``embed_missing``); everything else (manifest,
checksums, the atomic publish and the build lock) stays in the publishing process whatever
the engine. Both engines take the same per-source steps (``indexing.load_stage``: reading
each file once, reusing unchanged files' chunks) and the same embedding plan
(``indexing.embed_stage``); only where the parsing and the embedding run differs. ``indexing.ray_engine.RayEngine`` is the other engine; it is
imported only by ``--engine ray``, so a local build never imports Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from assistant.types import Chunk
from indexing.chunking import TokenChunker
from indexing.embed_stage import embed_missing
from indexing.fingerprints import Previous
from indexing.load_stage import Load, Loaded, load_and_chunk
from indexing.sources import SourceItem

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class BuildEngine(Protocol):
    """Runs the load/chunk and embed stages of one build."""

    name: str

    def load_and_chunk(
        self,
        items: list[SourceItem],
        previous: Previous,
        chunker: TokenChunker,
        load: Load,
        *,
        max_bytes: int,
        progress: Progress | None = None,
    ) -> Loaded: ...

    def embed_missing(
        self,
        chunks: list[Chunk],
        known: dict[str, np.ndarray],
        embedder: Any,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, int, int]: ...


class LocalEngine:
    """Both stages in the building process, one source and one batch after another."""

    name = "local"
    load_and_chunk = staticmethod(load_and_chunk)
    embed_missing = staticmethod(embed_missing)
