"""The small protocols that pluggable parts implement (structurally; no inheritance).

Optional capabilities are protocols of their own (``TokenWindow``, ``Closeable``,
``HealthReporting``), checked in one place each, instead of probing with ``getattr``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from assistant.types import Chunk, Generation, SearchHit

if TYPE_CHECKING:
    from assistant.ledger import QueryCost
    from assistant.snapshot import IndexSnapshot


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors."""

    model_name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dimension) float32, rows of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dimension,) float32 of unit length."""
        ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(slots=True)
class GenerationRequest:
    """Everything a generator may use; LLM backends read ``messages``."""

    question: str
    passages: list[Chunk]  # numbered [1..n] in this order
    messages: list[dict[str, str]]  # chat messages built by assistant.prompts (history included)
    max_tokens: int = 512
    temperature: float = 0.2


class Generator(Protocol):
    """Writes an answer that cites passages as [n]."""

    backend: str  # extractive | openai | local
    model: str

    def generate(self, request: GenerationRequest) -> Generation: ...

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        """Yield text deltas, then exactly one final ``Generation`` (full text, usage)."""
        ...


@runtime_checkable
class TokenWindow(Protocol):
    """A generator with its own tokenizer and context size (local models)."""

    context_tokens: int | None  # max positions of the model, None when unknown

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Closeable(Protocol):
    """A part holding connections, threads or files until ``close``."""

    def close(self) -> None: ...


@runtime_checkable
class HealthReporting(Protocol):
    """A part that knows whether its backing service answered last time."""

    @property
    def healthy(self) -> bool: ...


class Cache(Protocol):
    """Key/value store for answers and conversations (JSON-able values); never raises on outages."""

    @property
    def healthy(self) -> bool:
        """False after the backing store failed, until it answers again."""
        ...

    @property
    def last_error(self) -> str | None: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None: ...

    def set_many(self, writes: Sequence[tuple[str, dict[str, Any], int]]) -> None:
        """Several (key, value, ttl_s) sets in one round trip."""
        ...

    def submit(self, writes: Sequence[tuple[str, dict[str, Any], int]]) -> Future[None]:
        """``set_many`` without waiting for I/O: the future is done once the writes are."""
        ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> bool:
        """True when the backing store answers (always, in process)."""
        ...

    def close(self) -> None: ...


class SemanticLookup(Protocol):
    """Finds the cached answer of an earlier question that means the same."""

    @property
    def healthy(self) -> bool: ...

    def add(self, question: str, vector: np.ndarray, key: str, namespace: str) -> None: ...

    def lookup(self, question: str, vector: np.ndarray, namespace: str) -> str | None: ...

    def close(self) -> None: ...


class Pricing(Protocol):
    """USD cost of one generation."""

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, *, backend: str | None = None
    ) -> float: ...


class CostLedger(Protocol):
    """Records one row per query and reports totals."""

    def record(self, row: QueryCost) -> None: ...

    def summary(
        self, since: datetime | None = None, by: Literal["day", "model", "key"] | None = None
    ) -> dict[str, Any]: ...

    def flush(self, timeout_s: float = 5.0) -> bool: ...

    def close(self) -> None: ...


class RateLimiter(Protocol):
    """``hit`` counts one request: None when allowed, else seconds until a retry may pass."""

    def hit(self, identity: str) -> float | None: ...


class Grounder(Protocol):
    """Adds to relevant hits the passages an answer needs (e.g. the roadmap's own passage)."""

    def ground(
        self, snapshot: IndexSnapshot, question: str, hits: list[SearchHit], k: int
    ) -> list[SearchHit]: ...
