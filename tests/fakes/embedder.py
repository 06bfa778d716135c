"""A tiny deterministic Embedder for unit tests: hashed bag of words, unit length."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


class BagOfWordsEmbedder:
    """Implements ``assistant.protocols.Embedder``; equal word sets give equal vectors."""

    model_name = "bag-of-words"
    dimension = 64

    def __init__(self) -> None:
        self.queries: list[str] = []  # every text embed_query was called with

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, np.float32)
        for word in _WORD.findall(text.casefold()):
            v[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0
            return v
        return v / norm

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return (
            np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 64), np.float32)
        )

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self._vector(text)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))
