"""`IndexSearcher`: the served index snapshot, its hot reload, and "embed the query, search it".

The service, the evaluation (`assistant eval`, `index build --eval`), the fine-tuning
data (`assistant finetune data`) and the benchmarks all search through this one class,
so they retrieve exactly as the service does.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError, BadInputError, IndexNotBuiltError
from assistant.index import current_version
from assistant.protocols import Embedder
from assistant.retrieval import HybridRetriever, Mode
from assistant.snapshot import IndexSnapshot, load_latest_valid
from assistant.types import SearchHit

logger = logging.getLogger(__name__)

MAX_K = 50  # passages one request may ask for


class Query:
    """A query text whose vector is computed at most once, on first use (timed)."""

    def __init__(self, text: str, embedder: Embedder) -> None:
        self.text = text
        self._embedder = embedder
        self._vector: np.ndarray | None = None
        self.embed_ms = 0.0  # time spent embedding, 0 while the vector is unused

    @property
    def embedded(self) -> bool:
        return self._vector is not None

    @property
    def vector(self) -> np.ndarray:
        """(dimension,) float32 of unit length."""
        if self._vector is None:
            t = time.perf_counter()
            self._vector = self._embedder.embed_query(self.text)
            self.embed_ms = (time.perf_counter() - t) * 1000
        return self._vector


class IndexSearcher:
    """Searches the published index version; ``reload`` swaps to a newer one atomically."""

    def __init__(
        self,
        embedder: Embedder,
        retriever: HybridRetriever,
        *,
        index_dir: Path,
        top_k: int = 5,
        max_query_chars: int = 2000,
    ) -> None:
        self.embedder = embedder
        self.retriever = retriever
        self.index_dir = index_dir
        self.top_k = top_k
        self.max_query_chars = max_query_chars
        self._snapshot: IndexSnapshot | None = None
        self._reload_lock = threading.Lock()
        self.load_problems: list[str] = []  # why the published index is not the one served

    @classmethod
    def fixed(
        cls, snapshot: IndexSnapshot, embedder: Embedder, retriever: HybridRetriever
    ) -> IndexSearcher:
        """A searcher over one given snapshot (e.g. an unpublished version being evaluated)."""
        searcher = cls(embedder, retriever, index_dir=snapshot.path.parent.parent)
        searcher._snapshot = snapshot
        return searcher

    # ------------------------------------------------------------------ index lifecycle
    @property
    def snapshot(self) -> IndexSnapshot:
        snap = self._snapshot
        if snap is None:
            raise IndexNotBuiltError(
                f"no index is loaded from {self.index_dir}: run `assistant index build`"
            )
        return snap

    @property
    def loaded(self) -> IndexSnapshot | None:
        """The served snapshot, or None before an index has been published."""
        return self._snapshot

    def reload(self, force: bool = False) -> bool:
        """Load the published version if it differs from the served one; True if swapped.

        A version that fails to load is kept in ``load_problems`` (shown by /ready) and
        raised; with nothing served yet, the newest valid published version is served
        instead (logged loudly), and only when none loads does the error reach the caller.
        """
        with self._reload_lock:
            try:
                swapped = self._reload_locked(force)
            except AssistantError as exc:
                self.load_problems = [str(exc)]
                if self._snapshot is not None:
                    raise
                snap, problems = load_latest_valid(
                    self.index_dir,
                    self.embedder.model_name,
                    self.embedder.dimension,
                    backend=self.backend,
                )
                self.load_problems = problems or self.load_problems
                if snap is None:
                    raise
                self._snapshot = snap
                return True
            if swapped or self._snapshot is not None:
                self.load_problems = []
            return swapped

    @property
    def backend(self) -> str | None:
        """The embedder's backend (torch | onnx | onnx-int8): an index built by another is refused."""
        return getattr(self.embedder, "backend", None)

    def _reload_locked(self, force: bool) -> bool:
        version = current_version(self.index_dir)
        if version is None:
            return False
        if not force and self._snapshot is not None and self._snapshot.version == version:
            return False
        snap = IndexSnapshot.load(
            self.index_dir,
            version,
            model_name=self.embedder.model_name,
            dimension=self.embedder.dimension,
            backend=self.backend,
        )
        # One reference swap: in-flight requests finish on the snapshot they hold.
        self._snapshot = snap
        logger.info("serving index version %s", version)
        return True

    # ------------------------------------------------------------------ search
    def validate(self, text: str, what: str, k: int) -> str:
        """The stripped text; BadInputError naming the bad value when text or k is invalid."""
        text = (text or "").strip()
        if not text:
            raise BadInputError(f"{what} must not be empty")
        if len(text) > self.max_query_chars:
            raise BadInputError(
                f"{what} is {len(text)} characters, the limit is {self.max_query_chars}"
            )
        if not 1 <= k <= MAX_K:
            raise BadInputError(f"k must be between 1 and {MAX_K}, got {k}")
        return text

    def query(self, text: str) -> Query:
        return Query(text, self.embedder)

    def retrieve(
        self,
        snapshot: IndexSnapshot,
        query: Query,
        k: int,
        *,
        sources: list[str] | None = None,
        phases: list[int] | None = None,
        mode: Mode = "hybrid",
    ) -> list[SearchHit]:
        """Hybrid search of an already validated query in the snapshot a request holds."""
        return self.retriever.search(
            snapshot, query.text, query.vector, k, sources=sources, phases=phases, mode=mode
        )

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        sources: list[str] | None = None,
        phases: list[int] | None = None,
        mode: Mode = "hybrid",
    ) -> tuple[list[SearchHit], str]:
        """Validated search of the served version: (hits, index version)."""
        k = self.top_k if k is None else k  # k=0 is bad input, not "the default"
        text = self.validate(query, "query", k)
        snap = self.snapshot
        hits = self.retrieve(snap, self.query(text), k, sources=sources, phases=phases, mode=mode)
        return hits, snap.version


KEEP_RATIO = 0.75  # hits kept beside a relevant best one: dense score >= KEEP_RATIO * min_score


def relevant_hits(
    hits: list[SearchHit], min_score: float, keep_ratio: float = KEEP_RATIO
) -> list[SearchHit]:
    """The relevance cut: nothing unless the best dense score reaches ``min_score``, then
    every hit within ``keep_ratio * min_score`` (a good hit's runner-ups, not unrelated text)."""
    best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
    if best < min_score:
        return []
    floor = min_score * keep_ratio
    return [h for h in hits if (h.dense_score or 0.0) >= floor]
