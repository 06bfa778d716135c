"""Source and phase filters answered from row-id arrays built once per loaded index.

A filter costs a dictionary lookup per requested source or phase plus numpy work on
the rows it matches: never a Python loop over every chunk. ``sources`` entries name a
source exactly or a folder prefix ("notes" and "notes/" both match "notes/a.md").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from assistant.types import Chunk

_EMPTY = np.zeros(0, dtype=np.int64)


class RowFilter:
    """Row ids (sorted int64 arrays) per source, per folder prefix and per roadmap phase."""

    def __init__(
        self,
        by_source: dict[str, np.ndarray],
        by_phase: dict[int, np.ndarray],
    ) -> None:
        self.by_source = by_source
        self.by_phase = by_phase
        # folder prefix (without its trailing "/") -> the sources below it
        folders: dict[str, list[str]] = defaultdict(list)
        for source in by_source:
            for i, ch in enumerate(source):
                if ch == "/":
                    folders[source[:i]].append(source)
        self.by_folder = {k: tuple(v) for k, v in folders.items()}

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk]) -> RowFilter:
        sources: dict[str, list[int]] = defaultdict(list)
        phases: dict[int, list[int]] = defaultdict(list)
        for row, c in enumerate(chunks):
            sources[c.source].append(row)
            for p in set(c.phases):
                phases[p].append(row)
        return cls(
            {s: np.asarray(r, dtype=np.int64) for s, r in sources.items()},
            {p: np.asarray(r, dtype=np.int64) for p, r in phases.items()},
        )

    def _source_rows(self, wanted: Sequence[str]) -> np.ndarray:
        names: set[str] = set()
        for w in wanted:
            if w in self.by_source:
                names.add(w)
            names.update(self.by_folder.get(w.rstrip("/"), ()))
        return _union([self.by_source[n] for n in names])

    def rows(
        self, sources: Sequence[str] | None = None, phases: Sequence[int] | None = None
    ) -> np.ndarray | None:
        """Sorted row ids passing both filters; None when neither filter is given."""
        if not sources and not phases:
            return None
        selected: np.ndarray | None = None
        if sources:
            selected = self._source_rows(sources)
        if phases:
            by_phase = _union([self.by_phase[p] for p in set(phases) if p in self.by_phase])
            selected = (
                by_phase
                if selected is None
                else np.intersect1d(selected, by_phase, assume_unique=True)
            )
        assert selected is not None
        return selected


def _union(arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        return _EMPTY
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))
