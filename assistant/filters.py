"""Source and phase filters answered from row-id arrays built once per loaded index.

A source filter costs a dictionary lookup per requested source plus numpy work on the
rows it matches; a phase filter is one vectorised pass over a 2-byte column (or only over
the source-matched rows). Never a Python loop over every chunk. ``sources`` entries name a
source exactly or a folder prefix ("notes" and "notes/" both match "notes/a.md").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from assistant.types import Chunk

_EMPTY = np.zeros(0, dtype=np.int64)
MAX_PHASES = 16  # bits in the per-row phase mask (the roadmap has phases 1-9)


class RowFilter:
    """Row ids per source and folder prefix (sorted int64 arrays), phases as a bitmask per row."""

    def __init__(self, by_source: dict[str, np.ndarray], phase_bits: np.ndarray) -> None:
        self.by_source = by_source
        self.phase_bits = phase_bits  # (N,) uint16: bit p set when the row is tagged phase p
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
        bits = np.zeros(len(chunks), dtype=np.uint16)
        for row, c in enumerate(chunks):
            sources[c.source].append(row)
            for p in c.phases:
                if 0 <= p < MAX_PHASES:
                    bits[row] |= 1 << p
        return cls({s: np.asarray(r, dtype=np.int64) for s, r in sources.items()}, bits)

    def _source_rows(self, wanted: Sequence[str]) -> np.ndarray:
        names: set[str] = set()
        for w in wanted:
            if w in self.by_source:
                names.add(w)
            names.update(self.by_folder.get(w.rstrip("/"), ()))
        arrays = [self.by_source[n] for n in names]
        if not arrays:
            return _EMPTY
        # Each row has one source: the arrays are disjoint, a sort is the whole union.
        return arrays[0] if len(arrays) == 1 else np.sort(np.concatenate(arrays))

    def rows(
        self, sources: Sequence[str] | None = None, phases: Sequence[int] | None = None
    ) -> np.ndarray | None:
        """Sorted row ids passing both filters; None when neither filter is given."""
        if not sources and not phases:
            return None
        mask = 0
        for p in set(phases or ()):
            if 0 <= p < MAX_PHASES:
                mask |= 1 << p
        if not sources:
            # One vectorised pass over a 2-byte column; no Python per row.
            return np.flatnonzero(self.phase_bits & mask).astype(np.int64)
        selected = self._source_rows(sources)
        if phases:
            selected = selected[(self.phase_bits[selected] & mask) != 0]
        return selected
