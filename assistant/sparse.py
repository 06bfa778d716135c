"""BM25 over the same chunk rows, with bm25s (saved as numpy arrays + JSON, no pickle)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import Stemmer

from assistant.errors import IndexCorruptError

# bm25s imports numba and scipy.sparse when they are installed (ranx brings numba,
# sentence-transformers scipy), for a scoring backend and a matrix format that BM25 here
# never uses (its defaults are numpy): 0.3 s and 0.2 s of every `assistant ask` or build.
# Hide each one meanwhile, unless already imported; it imports normally afterwards, for
# whoever needs it.
_HIDDEN = [m for m in ("numba", "scipy") if m not in sys.modules]
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]
try:
    import bm25s
finally:
    for _name in _HIDDEN:
        del sys.modules[_name]


logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG when imported: its progress chatter is not for users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STEMMER = Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, English stop words removed, Snowball-stemmed word tokens."""
    out = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )
    return [list(t) for t in out]  # type: ignore[union-attr]


class Bm25Index:
    """Sparse lexical scores for every row."""

    def __init__(self, retriever: bm25s.BM25, n_docs: int) -> None:
        self._bm25 = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Index:
        retriever = bm25s.BM25()
        tokens = tokenize(texts)
        # bm25s cannot index an empty corpus; an empty index simply scores nothing.
        if texts:
            retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.n_docs:
            self._bm25.save(str(path))

    @classmethod
    def load(cls, path: Path, n_docs: int) -> Bm25Index:
        if n_docs == 0:
            return cls(bm25s.BM25(), 0)
        try:
            retriever = bm25s.BM25.load(str(path), mmap=False, allow_pickle=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"{path} is not a readable BM25 index: {exc}") from exc
        return cls(retriever, n_docs)

    def scores(self, query: str) -> np.ndarray:
        """(n_docs,) BM25 scores; zeros when no query term is in the vocabulary."""
        if not self.n_docs:
            return np.zeros(0, dtype=np.float32)
        tokens = [t for t in tokenize([query])[0] if t in self._bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
