"""Plain data types shared by the build job, retrieval, generation and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Section:
    """A run of text under one heading path (``("Phase 5", "Ridge")``)."""

    headings: tuple[str, ...]
    text: str
    anchor: str | None = None  # HTML id / Markdown slug of the innermost heading


@dataclass(slots=True)
class Document:
    """One loaded source, split into heading sections by its loader."""

    source: str  # path relative to the corpus root, or the URL
    title: str
    sections: list[Section]
    url: str | None = None
    phases: tuple[int, ...] = ()
    kind: str = "text"  # markdown | text | html | pdf | notebook | url

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


@dataclass(slots=True)
class Chunk:
    """A retrievable passage with everything needed to cite it."""

    chunk_id: str  # stable: hash of source + section + ordinal + text
    source: str
    title: str
    section: str  # heading path joined with " > "
    text: str  # the passage as shown to people
    url: str | None
    phases: tuple[int, ...]
    content_hash: str  # sha256 of the embedded text (heading path + passage)
    ordinal: int = 0  # position within its source

    def embed_text(self) -> str:
        """The text that is embedded and BM25-indexed: heading path, then passage."""
        head = " > ".join(p for p in (self.title, self.section) if p)
        return f"{head}\n{self.text}" if head else self.text

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["phases"] = list(self.phases)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Chunk:
        return cls(**{**d, "phases": tuple(d.get("phases") or ())})


@dataclass(slots=True)
class SearchHit:
    """A chunk with its fused retrieval score (higher is better)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None  # cosine similarity to the query, when known
    sparse_score: float | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "chunk_id": c.chunk_id,
            "text": c.text,
            "source": c.source,
            "title": c.title,
            "section": c.section,
            "url": c.url,
            "phases": list(c.phases),
            "score": round(self.score, 6),
        }


@dataclass(slots=True)
class Usage:
    """Token counts of one generation; ``exact`` is False for estimates."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    exact: bool = True


@dataclass(slots=True)
class Generation:
    """What a generator returns: text citing passages as [n], and its usage."""

    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"
