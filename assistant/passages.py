"""A cited passage whole, with its neighbours in its source (``GET /v1/passages/{chunk_id}``).

Citations carry the ``chunk_id`` of the passage they cite; ``PassageIndex`` finds it in
one index version and the passages just before and after it in the same source, by
chunk order (``Chunk.ordinal``), so a reader can page through the source around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.errors import NotFoundError
from assistant.roadmap import Roadmap
from assistant.types import Chunk

PREVIEW_CHARS = 120  # characters of a neighbour shown as its preview


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of a passage on one line, cut at a word with an ellipsis when longer."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut.rstrip(" ,;:") + "…"


@dataclass(frozen=True, slots=True)
class Passage:
    """One passage, where it sits in its source, and the passages around it."""

    chunk: Chunk
    position: int  # 1-based place of the passage in its source
    count: int  # passages of the source in this index version
    previous: Chunk | None
    next: Chunk | None

    def to_json(self, index_version: str, roadmap: Roadmap | None = None) -> dict[str, Any]:
        c = self.chunk
        phases = roadmap.phases if roadmap is not None else {}
        return {
            "chunk_id": c.chunk_id,
            "text": c.text,
            "title": c.title,
            "source": c.source,
            "url": c.url,
            "section": c.section,
            "headings": [h for h in c.section.split(" > ") if h] if c.section else [],
            "topic": c.section.split(" > ")[-1].strip() if c.section else c.title,
            "phases": [
                {"number": p, "title": phases[p].title if p in phases else None} for p in c.phases
            ],
            "position": self.position,
            "count": self.count,
            "previous": _neighbour(self.previous),
            "next": _neighbour(self.next),
            "index_version": index_version,
        }


def _neighbour(chunk: Chunk | None) -> dict[str, Any] | None:
    if chunk is None:
        return None
    return {"chunk_id": chunk.chunk_id, "section": chunk.section, "preview": preview(chunk.text)}


class PassageIndex:
    """chunk id -> row, and each source's rows in chunk order; built once per index version."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._chunks = chunks
        self._row = {c.chunk_id: row for row, c in enumerate(chunks)}
        by_source: dict[str, list[int]] = {}
        for row, c in enumerate(chunks):
            by_source.setdefault(c.source, []).append(row)
        # Position of each row within its source's ordered rows.
        self._order: dict[str, list[int]] = {}
        self._place: dict[int, int] = {}
        for source, rows in by_source.items():
            rows.sort(key=lambda r: (chunks[r].ordinal, r))
            self._order[source] = rows
            for i, r in enumerate(rows):
                self._place[r] = i

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._row

    def get(self, chunk_id: str) -> Chunk | None:
        row = self._row.get(chunk_id)
        return None if row is None else self._chunks[row]

    def passage(self, chunk_id: str, index_version: str = "") -> Passage:
        """The passage ``chunk_id`` with its neighbours; NotFoundError when it is not indexed."""
        row = self._row.get(chunk_id)
        if row is None:
            where = f" in index version {index_version}" if index_version else ""
            raise NotFoundError(f"no passage with id {chunk_id!r}{where}")
        chunk = self._chunks[row]
        rows = self._order[chunk.source]
        i = self._place[row]
        return Passage(
            chunk=chunk,
            position=i + 1,
            count=len(rows),
            previous=self._chunks[rows[i - 1]] if i > 0 else None,
            next=self._chunks[rows[i + 1]] if i + 1 < len(rows) else None,
        )
