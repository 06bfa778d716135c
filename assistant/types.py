"""Plain data types shared by the build job, retrieval, generation and the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Literal

CacheOutcome = Literal["hit", "semantic", "miss"]
# What an answer says when the study material has nothing on the question.
NOT_COVERED_SENTENCE = "The study material does not cover this question."


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
    tags: tuple[str, ...] = ()  # the source's own labels (Markdown front matter ``tags``)

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
    """Token counts of one generation or answer; ``exact`` is False for estimates.

    ``cost_usd`` is filled in when the answer is priced (generators leave it 0).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    exact: bool = True
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict deep-copies field by field, and every cached
        # answer is serialised (measured 4x slower per answer with its citations).
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "exact": self.exact,
            "cost_usd": self.cost_usd,
        }


@dataclass(slots=True)
class Generation:
    """What a generator returns: text citing passages as [n], and its usage."""

    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"


SNIPPET_CHARS = 280  # characters of a cited passage shown as its snippet


@dataclass(frozen=True, slots=True)
class Citation:
    """One passage an answer cites as ``[id]``."""

    id: int
    chunk_id: str
    source: str
    title: str
    section: str
    url: str | None
    snippet: str  # the first 280 characters of the passage
    score: float
    phases: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, n: int, chunk: Chunk, score: float) -> Citation:
        return cls(
            id=n,
            chunk_id=chunk.chunk_id,
            source=chunk.source,
            title=chunk.title,
            section=chunk.section,
            url=chunk.url,
            snippet=chunk.text[:SNIPPET_CHARS],
            score=round(score, 6),
            phases=list(chunk.phases),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "url": self.url,
            "snippet": self.snippet,
            "score": self.score,
            "phases": list(self.phases),
        }


@dataclass(slots=True)
class Answer:
    """One answer: what `/v1/ask` returns, what streams end with, what the cache stores."""

    answer: str
    citations: list[Citation]
    usage: Usage
    cache: CacheOutcome
    backend: str
    model: str
    index_version: str
    latency_ms: float
    degraded: bool
    request_id: str
    conversation_id: str | None = None
    roadmap: str | None = None  # where the topic sits in the roadmap
    passage_ids: list[str] = field(default_factory=list)  # every passage the answer was built from
    finish_reason: str = "stop"  # "length": the text stopped at the token limit

    def to_json(self) -> dict[str, Any]:
        """The `/v1/ask` response body (``passage_ids`` stay internal)."""
        return {
            "answer": self.answer,
            "citations": [c.to_json() for c in self.citations],
            "usage": self.usage.to_json(),
            "cache": self.cache,
            "backend": self.backend,
            "model": self.model,
            "index_version": self.index_version,
            "latency_ms": round(self.latency_ms, 2),
            "degraded": self.degraded,
            "request_id": self.request_id,
            "conversation_id": self.conversation_id,
            "roadmap": self.roadmap,
            "finish_reason": self.finish_reason,
        }

    def to_cache_json(self) -> dict[str, Any]:
        """The cache entry: the response body plus the passages it depends on."""
        return {**self.to_json(), "passage_ids": list(self.passage_ids)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Answer:
        """Read back ``to_json`` / ``to_cache_json`` output; KeyError/TypeError when malformed."""
        return cls(
            answer=d["answer"],
            citations=[Citation(**c) for c in d["citations"]],
            usage=Usage(**d["usage"]),
            cache=d["cache"],
            backend=d["backend"],
            model=d["model"],
            index_version=d["index_version"],
            latency_ms=float(d["latency_ms"]),
            degraded=bool(d["degraded"]),
            request_id=d["request_id"],
            conversation_id=d.get("conversation_id"),
            roadmap=d.get("roadmap"),
            passage_ids=list(d.get("passage_ids", [])),
            finish_reason=str(d.get("finish_reason") or "stop"),
        )

    def reused(
        self,
        outcome: CacheOutcome,
        *,
        request_id: str,
        conversation_id: str,
        index_version: str,
        latency_ms: float,
    ) -> Answer:
        """This cached answer served again: nothing billed, the request's own ids and timing."""
        return replace(
            self,
            usage=Usage(exact=True),
            cache=outcome,
            request_id=request_id,
            conversation_id=conversation_id,
            index_version=index_version,
            latency_ms=latency_ms,
        )


# ----------------------------------------------------------------------------- stream events
@dataclass(frozen=True, slots=True)
class Meta:
    """First event of an answer: what will answer, before any text."""

    event: ClassVar[str] = "meta"
    request_id: str
    index_version: str
    cache: CacheOutcome
    backend: str
    model: str
    conversation_id: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of answer text, in order."""

    event: ClassVar[str] = "delta"
    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """Last event: the whole answer (its text equals the deltas joined)."""

    event: ClassVar[str] = "done"
    answer: Answer


AskEvent = Meta | Delta | Done
