"""`SupportCheck`: does any clause of the passages speak to the question?

The relevance cut (``searcher.relevant_hits``) compares the question with whole
passages, and a passage's vector is the mean of all it says: an unrelated question
can land just above ``min_score`` (0.205 for "What is the capital of Mongolia's best
pizza place?" against a FastAPI note with int8 vectors on an AVX2 machine, 0.18 on
another). Short units separate far better: sentences, and the parts of a sentence
that lists several things ("...; cyclical encoding of periodic values (hour h →
sin(2πh/24), ...); log transforms ..."). On the 264 questions of ``corpus/eval``
whose passages pass the relevance cut, the best clause scored at least 0.29 for every
in-scope question but one (0.22: the passage that answers it had already been cut, so
its answer was built from a timing decorator), and 0.196 to 0.207 for the out-of-scope
ones but one (basketball players: 0.31). The default 0.25 sits in that gap, further
from either side than int8 vectors move between machines (about 0.02).

Clause vectors are computed once per passage and process (an LRU by chunk id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.generation.sentences import parse_passage
from assistant.lru import LRU
from assistant.protocols import Embedder
from assistant.types import Chunk

_CLAUSE_BREAK = re.compile(r";\s+")
MIN_CLAUSE_WORDS = 4  # shorter parts of a list say too little to be compared alone


def clauses(text: str) -> list[str]:
    """The sentences of a passage, and the parts of those that list things with ';'."""
    out: list[str] = []
    for sentence in parse_passage(text):
        out.append(sentence.text)
        parts = [
            p for p in _CLAUSE_BREAK.split(sentence.text) if len(p.split()) >= MIN_CLAUSE_WORDS
        ]
        if len(parts) > 1:
            out.extend(parts)
    return out


class SupportCheck:
    """Passes the passages on only when one of their clauses is close to the question."""

    def __init__(self, embedder: Embedder, min_score: float, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.min_score = min_score
        # chunk_id -> (n, dimension) float32 unit vectors of its clauses
        self._cache: LRU[str, np.ndarray] = LRU(cache_size)

    def vectors(self, chunk: Chunk) -> np.ndarray:
        hit = self._cache.get(chunk.chunk_id)
        if hit is not None:
            return hit
        texts = clauses(chunk.text)
        vecs = (
            np.asarray(self.embedder.embed_documents(texts), np.float32)
            if texts
            else np.zeros((0, self.embedder.dimension), np.float32)
        )
        self._cache.put(chunk.chunk_id, vecs)
        return vecs

    def best(self, question: np.ndarray, passages: Sequence[Chunk]) -> float:
        """The highest cosine between ``question`` (unit vector) and a clause of a passage."""
        scores = [float((v @ question).max()) for v in map(self.vectors, passages) if len(v)]
        return max(scores, default=0.0)

    def supported(self, question: np.ndarray, passages: Sequence[Chunk]) -> bool:
        if self.min_score <= 0 or not passages:
            return bool(passages)
        return self.best(question, passages) >= self.min_score
