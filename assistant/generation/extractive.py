"""The offline default answerer: the passages' most relevant sentences, each cited [n]."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from assistant.protocols import Embedder, GenerationRequest
from assistant.types import Chunk, Generation, Usage

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|vs|etc|approx|cf|Fig|No)\.|\b[A-Z]\.)$")
_FENCE = re.compile(r"```.*?```", re.DOTALL)
_MD_NOISE = re.compile(r"\*\*|__|^#+\s*|^\s*[-*+]\s+|^\s*\d+\.\s+", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "what",
        "how",
        "why",
        "when",
        "which",
        "who",
        "do",
        "does",
        "i",
        "my",
        "me",
        "you",
        "it",
        "this",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "can",
        "should",
        "would",
        "about",
    ]
)


_CONNECTIVE = re.compile(
    r"^(also|however|so|but|and|then|thus|therefore|instead|likewise|similarly|in practice|"
    r"in short|that said|in other words|for example|for instance)\s*,?\s+",
    re.IGNORECASE,
)


def _drop_connective(sentence: str) -> str:
    """An extracted sentence stands alone: "Also, alpha ..." reads as "Alpha ..."."""
    m = _CONNECTIVE.match(sentence)
    if not m or m.group(1).lower() in ("for example", "for instance"):
        return sentence
    rest = sentence[m.end() :]
    return rest[:1].upper() + rest[1:] if rest and not rest.startswith("`") else rest or sentence


def _merge_abbreviations(pieces: list[str]) -> list[str]:
    """Re-join pieces split after "e.g." or an initial, which end no sentence."""
    out: list[str] = []
    for piece in pieces:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def split_sentences(text: str) -> list[str]:
    """Readable prose sentences of a passage (code blocks and bare links dropped)."""
    text = _FENCE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _MD_NOISE.sub("", text)
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        for s in _merge_abbreviations(_SENTENCE_END.split(para)):
            s = s.strip()
            # Skip fragments, table rows, "Official docs: <url>" lines, and sentences cut off
            # by a removed code block ("scikit-learn minimizes") or leading into one ("...:").
            if len(s) < 25 or s.count("|") > 2 or re.match(r"(?i)official docs?:", s):
                continue
            if not s.rstrip("*_`)\"'").endswith((".", "!", "?")) or s[0].islower():
                continue  # a lowercase start continues a sentence broken by a code block
            out.append(_drop_connective(s))
    return out


class ExtractiveGenerator:
    """Picks sentences by similarity to the question (embeddings + word overlap)."""

    backend = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 4,
        max_words: int = 140,
        cache_size: int = 4096,
    ) -> None:
        self.embedder = embedder
        self.model = f"extractive:{embedder.model_name}"
        self.max_sentences = max_sentences
        self.max_words = max_words
        # chunk_id -> (sentences, vectors): passages repeat across questions.
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _sentences(self, chunk: Chunk) -> tuple[list[str], np.ndarray]:
        with self._lock:
            hit = self._cache.get(chunk.chunk_id)
            if hit is not None:
                self._cache.move_to_end(chunk.chunk_id)
                return hit
        sents = split_sentences(chunk.text)
        vecs = (
            self.embedder.embed_documents(sents)
            if sents
            else np.zeros((0, self.embedder.dimension), np.float32)
        )
        with self._lock:
            self._cache[chunk.chunk_id] = (sents, vecs)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return sents, vecs

    def generate(self, request: GenerationRequest) -> Generation:
        if not request.passages:
            return Generation(
                text="The study material does not cover this question.",
                usage=Usage(0, 0, exact=True),
                model=self.model,
            )
        q = self.embedder.embed_query(request.question)
        q_words = {w for w in _WORD.findall(request.question.lower()) if w not in _STOP}
        scored: list[tuple[float, int, int, str]] = []  # (score, passage n, position, sentence)
        for n, chunk in enumerate(request.passages, start=1):
            sents, vecs = self._sentences(chunk)
            if not sents:
                continue
            sims = vecs @ q  # cosine: both unit length
            for pos, (s, sim) in enumerate(zip(sents, sims, strict=True)):
                s_words = set(_WORD.findall(s.lower()))
                overlap = len(q_words & s_words) / (len(q_words) or 1)
                # Earlier passages rank higher in retrieval; a small prior keeps that order.
                score = float(sim) + 0.15 * overlap - 0.02 * (n - 1)
                scored.append((score, n, pos, s))
        if not scored:
            text = " ".join(
                f"{c.text[:300].strip()} [{n}]" for n, c in enumerate(request.passages[:1], 1)
            )
            return Generation(text=text, usage=Usage(0, 0, exact=True), model=self.model)
        scored.sort(key=lambda x: -x[0])
        best = scored[0][0]
        picked: list[tuple[float, int, int, str]] = []
        total_words = 0
        for item in scored:
            # Keep sentences that are nearly as relevant as the best one.
            if len(picked) >= self.max_sentences or (picked and item[0] < best - 0.25):
                break
            n_words = len(item[3].split())
            if picked and total_words + n_words > self.max_words:
                continue
            picked.append(item)
            total_words += n_words
        # Read in passage order, then sentence order, so the answer flows.
        picked.sort(key=lambda x: (x[1], x[2]))
        text = " ".join(f"{s} [{n}]" for _, n, _, s in picked)
        return Generation(text=text, usage=Usage(0, 0, exact=True), model=self.model)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        gen = self.generate(request)
        # Stream word by word so clients render progressively, as with an LLM.
        parts = re.split(r"(\s+)", gen.text)
        for i in range(0, len(parts), 8):
            yield "".join(parts[i : i + 8])
        yield gen
