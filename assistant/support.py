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

from assistant.generation.sentences import (
    Sentence,
    SentenceVectors,
    embed_texts,
    parse_passage,
)
from assistant.lru import LRU
from assistant.protocols import Embedder
from assistant.types import Chunk

_CLAUSE_BREAK = re.compile(r";\s+")
MIN_CLAUSE_WORDS = 4  # shorter parts of a list say too little to be compared alone


def listed_parts(sentences: Sequence[Sentence]) -> list[str]:
    """The parts of the sentences that list several things with ';' (each long enough)."""
    out: list[str] = []
    for sentence in sentences:
        parts = [
            p for p in _CLAUSE_BREAK.split(sentence.text) if len(p.split()) >= MIN_CLAUSE_WORDS
        ]
        if len(parts) > 1:
            out.extend(parts)
    return out


def clauses(text: str) -> list[str]:
    """The sentences of a passage, then the parts of those that list things with ';'."""
    sentences = parse_passage(text)
    return [s.text for s in sentences] + listed_parts(sentences)


class SupportCheck:
    """Passes the passages on only when one of their clauses is close to the question.

    Its sentence vectors (``sentences``) are also the extractive answerer's; the listed
    parts are embedded in a batch of their own, once per passage and process.
    """

    def __init__(self, embedder: Embedder, min_score: float, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.sentences = SentenceVectors(embedder, cache_size)
        self._parts: LRU[str, np.ndarray] = LRU(cache_size)  # chunk_id -> listed parts' vectors

    def vectors(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
        """(vectors of ``chunk``'s sentences, vectors of their listed parts)."""
        sents, sentence_vecs = self.sentences(chunk)
        part_vecs = self._parts.get(chunk.chunk_id)
        if part_vecs is None:
            part_vecs = embed_texts(self.embedder, listed_parts(sents))
            self._parts.put(chunk.chunk_id, part_vecs)
        return sentence_vecs, part_vecs

    def best(self, question: np.ndarray, passages: Sequence[Chunk]) -> float:
        """The highest cosine between ``question`` (unit vector) and a clause of a passage."""
        scores = [
            float((v @ question).max())
            for pair in map(self.vectors, passages)
            for v in pair
            if len(v)
        ]
        return max(scores, default=0.0)

    def supported(self, question: np.ndarray, passages: Sequence[Chunk]) -> bool:
        if self.min_score <= 0 or not passages:
            return bool(passages)
        return self.best(question, passages) >= self.min_score
