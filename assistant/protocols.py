"""The small protocols that pluggable parts implement (structurally; no inheritance)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np

from assistant.types import Chunk, Generation


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
    messages: list[dict[str, str]]  # chat messages built by assistant.prompts
    history: list[dict[str, str]] = field(default_factory=list)
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


class Cache(Protocol):
    """Key/value store for answers and conversations (JSON-able values)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any], ttl_s: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> bool:
        """True when the backing store answers (always, in process)."""
        ...


class CostLedger(Protocol):
    """Records one row per query and reports totals."""

    def record(self, row: Any) -> None: ...

    def summary(
        self, since: datetime | None = None, by: Literal["day", "model", "key"] | None = None
    ) -> dict[str, Any]: ...

    def flush(self, timeout_s: float = 5.0) -> bool: ...

    def close(self) -> None: ...
