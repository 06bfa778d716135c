"""Shared by the answer benchmarks: the service's retrieve → filter → fit step, without the service.

``Pipeline`` searches an index of ``corpus/`` (built once into a cache folder, URL sources
skipped, as in the tests) with the default settings, keeps the passages the service would
give the answerer (same ``min_score`` filter, same token budget), and can add the roadmap
grounding step. Scores: token F1 and ROUGE-L (LCS) against a reference, and faithfulness
(share of answer sentences found in, or supported by, the passage they cite).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.grounding import Grounding
from assistant.prompts import fit_passages
from assistant.protocols import GenerationRequest
from assistant.types import Chunk, SearchHit
from bench.common import CORPUS, REPO

_TOKEN = re.compile(r"[a-z0-9]+")
_CITED = re.compile(r"(.+?)\s*\[(\d+)\](?=\s|$)")
_SENT = re.compile(r"(?<=[.!?])\s+")


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(re.sub(r"\[\d+\]", " ", text).lower())


def token_f1(answer: str, reference: str) -> float:
    a, r = tokens(answer), tokens(reference)
    common = sum((Counter(a) & Counter(r)).values())
    if not a or not r or not common:
        return 0.0
    p, rec = common / len(a), common / len(r)
    return 2 * p * rec / (p + rec)


def rouge_l(answer: str, reference: str) -> float:
    a, r = tokens(answer), tokens(reference)
    if not a or not r:
        return 0.0
    prev = [0] * (len(r) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(r, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    p, rec = lcs / len(a), lcs / len(r)
    return 2 * p * rec / (p + rec)


def _plain(text: str) -> str:
    """Markdown emphasis, link targets and markers removed, whitespace collapsed."""
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)]+)\)", r"\1", text)
    text = re.sub(r"\*\*|__|[❌✔✅]|^\s*>\s?", "", text, flags=re.MULTILINE)
    return " ".join(text.split())


def cited_sentences(answer: str) -> list[tuple[str, int]]:
    """(sentence, n) for every "sentence [n]" of an answer."""
    return [(s.strip(), int(n)) for s, n in _CITED.findall(answer)]


def faithfulness(
    answer: str, passages: list[Chunk], embedder: Any, threshold: float = 0.8
) -> float:
    """Share of cited answer sentences whose text is in, or close to a sentence of, its passage."""
    pieces = cited_sentences(answer)
    if not pieces:
        return 0.0
    ok = 0
    for sentence, n in pieces:
        if not 1 <= n <= len(passages):
            continue
        chunk = passages[n - 1]
        text = _plain(chunk.text)
        head, _, rest = sentence.partition(" — ")
        if rest and head in chunk.section:  # "Phase 1: … — Time: 1–2 months." (a field line)
            sentence = rest
        words = _plain(sentence).rstrip(".")
        label_less = words.partition(": ")[2]  # "Common pitfall: Not scaling features first."
        if words in text or words[1:] in text or (label_less and label_less in text):
            ok += 1
            continue
        support = [s for s in _SENT.split(text) if len(s) > 20]
        if support:
            sims = embedder.embed_documents(support) @ embedder.embed_documents([sentence])[0]
            ok += float(sims.max()) >= threshold
    return ok / len(pieces)


class Pipeline:
    """Retrieval as the service does it, on an index of the project's corpus."""

    def __init__(self, embedder: Any, index_dir: Path, *, k: int = 5) -> None:
        from assistant.factory import make_retriever
        from assistant.index import current_version
        from assistant.settings import Settings
        from assistant.snapshot import IndexSnapshot
        from indexing.build import BuildOptions, build_index

        if current_version(index_dir) is None:
            build_index(BuildOptions(corpus=CORPUS, index_dir=index_dir), embedder)
        self.settings = Settings(index_dir=index_dir, corpus_dir=CORPUS)
        self.embedder = embedder
        self.snapshot = IndexSnapshot.load(index_dir, model_name=embedder.model_name)
        self.retriever = make_retriever(self.settings)
        self.grounding = Grounding(embedder)
        self.k = k

    def hits(self, question: str, *, grounded: bool = False) -> list[SearchHit]:
        """Top-k retrieval, then (if asked) the grounding step on the relevant hits."""
        qvec = self.embedder.embed_query(question)
        hits = self.retriever.search(self.snapshot, question, qvec, self.k)
        min_score = self.settings.min_score
        best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        if best < min_score:
            return []
        # As the service does: drop weak hits, then ground what is left in the roadmap.
        hits = [h for h in hits if (h.dense_score or 0.0) >= min_score * 0.75]
        if grounded:
            hits = self.grounding.ground(self.snapshot, question, hits, self.k)
        return hits

    def passages(self, question: str, *, grounded: bool = False) -> list[Chunk]:
        """What the service hands the answerer (empty = "not covered")."""
        chunks = [h.chunk for h in self.hits(question, grounded=grounded)]
        return fit_passages(chunks, self.settings.context_tokens, self.embedder.count_tokens)

    @staticmethod
    def request(question: str, passages: list[Chunk]) -> GenerationRequest:
        return GenerationRequest(question=question, passages=passages, messages=[])


DEFAULT_INDEX = REPO / "var" / "bench-answers-index"
