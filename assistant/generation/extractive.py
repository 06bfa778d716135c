"""The offline default answerer: the passages' most relevant sentences, each cited [n].

Every sentence is scored by similarity to the question (embeddings + word overlap), with
bonuses read from the question's kind: "what is X" prefers the central sentences of the
passage about X (its heading names X, its lead or "core idea" sentences, sentences with X
as subject); "X vs Y" covers both sides; "how long / what next" prefers a plan's field
lines ("Time: …"). A sentence that refers back ("It also…", "This…") only appears right
after the sentence it depends on. Sentences read in document order within a passage.

It is deterministic: ``temperature`` and the client's instructions (system messages) do not
apply to picked sentences and are ignored; ``max_tokens`` is honoured (``_fit``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.generation.sentences import (
    Sentence,
    SentenceVectors,
    split_sentences,
)
from assistant.protocols import Embedder, GenerationRequest
from assistant.question_kind import (
    STOP,
    WORD,
    QuestionKind,
    content_words,
    norm,
    read_question,
)
from assistant.types import NOT_COVERED_SENTENCE, Chunk, Generation, Usage

__all__ = ["ExtractiveGenerator", "split_sentences"]

NOT_COVERED = NOT_COVERED_SENTENCE
# Paragraph labels that mark a topic's central statement (a bonus, never required).
CORE_LABELS = frozenset(
    [
        "core idea",
        "definition",
        "overview",
        "summary",
        "in short",
        "key idea",
        "the idea",
        "what it is",
        "tl;dr",
    ]
)


@dataclass(slots=True, eq=False)
class _Cand:
    score: float
    n: int  # passage number, from 1
    sent: Sentence


def _heading_words(chunk: Chunk) -> set[str]:
    """Content words of the passage's innermost heading (its topic, in most documents)."""
    path = [p for p in chunk.section.split(" > ") if p and p != chunk.title]
    return content_words(path[-1]) if path else set()


def _major_heading(chunk: Chunk) -> str:
    """The outermost heading below the document title ("Phase 1: Python Fundamentals")."""
    path = [p for p in chunk.section.split(" > ") if p and p != chunk.title]
    return path[0] if path else chunk.title


def _match(term: set[str], words: set[str]) -> float:
    return len(term & words) / len(term) if term else 0.0


class ExtractiveGenerator:
    """Picks sentences by similarity to the question and by their role in their passage."""

    backend = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 4,
        max_words: int = 140,
        cache_size: int = 4096,
        sentences: SentenceVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.model = f"extractive:{embedder.model_name}"
        self.max_sentences = max_sentences
        self.max_words = max_words
        # Passages repeat across questions; the service shares the not-covered check's.
        self._sentences = sentences or SentenceVectors(embedder, cache_size)

    def _score(self, kind: QuestionKind, q: np.ndarray, passages: list[Chunk]) -> list[_Cand]:
        out: list[_Cand] = []
        for n, chunk in enumerate(passages, start=1):
            sents, vecs = self._sentences(chunk)
            if not sents:
                continue
            heading = _heading_words(chunk)
            topic = max((_match(t, heading) for t in kind.terms), default=0.0)
            lead = min(s.para for s in sents)
            for s, sim in zip(sents, vecs @ q, strict=True):
                words = {norm(w) for w in WORD.findall(s.text.lower()) if w not in STOP}
                overlap = len(kind.words & words) / (len(kind.words) or 1)
                # Earlier passages rank higher in retrieval; a small prior keeps that order.
                score = float(sim) + 0.15 * overlap - 0.02 * (n - 1)
                if kind.central:
                    opening = {norm(w) for w in WORD.findall(s.text.lower())[:6]}
                    score += 0.2 * topic
                    score += 0.1 * max((_match(t, opening) for t in kind.terms), default=0.0)
                    score += 0.08 * (s.label in CORE_LABELS)
                    score += 0.06 * (s.leads and s.para == lead)
                if kind.label_cues and any(c in s.label for c in kind.label_cues):
                    score += 0.1
                if s.field:
                    score += 0.25 if kind.plan else -0.1
                score -= 0.03 * s.dependent
                out.append(_Cand(score, n, s))
        return out

    def _pick(self, kind: QuestionKind, scored: list[_Cand], passages: list[Chunk]) -> list[_Cand]:
        scored = sorted(scored, key=lambda c: -c.score)
        best = scored[0].score
        limit = 3 if kind.definitional and not kind.comparison else self.max_sentences
        picked: list[_Cand] = []
        words = 0
        for c in scored:
            # Keep sentences that are nearly as relevant as the best one.
            if len(picked) >= limit or (picked and c.score < best - 0.25):
                break
            n_words = len(c.sent.text.split())
            if picked and words + n_words > self.max_words:
                continue
            picked.append(c)
            words += n_words
        if scored[0].sent.field:  # a plan's field lines answer it: little else is needed
            picked = [c for c in picked if c.sent.field or c.score >= best - 0.1]
        if kind.definitional and not kind.comparison:
            picked = self._central(picked, scored)
        if kind.comparison:
            picked = self._sides(kind, picked, scored, passages)
        return self._repair(picked, scored)

    def _sides(
        self, kind: QuestionKind, picked: list[_Cand], scored: list[_Cand], passages: list[Chunk]
    ) -> list[_Cand]:
        """ "X vs Y": the best sentences of each side's own passage, then the best overall."""
        per_side = max(1, self.max_sentences // len(kind.terms))
        out: list[_Cand] = []
        for term in kind.terms:
            own = [c for c in scored if _match(term, _heading_words(passages[c.n - 1])) == 1.0]
            if not own:  # no passage is headed by it: sentences that name it
                own = [c for c in scored if term <= content_words(c.sent.text)]
            # A side's central sentences first ("core idea"), else its most relevant ones.
            own.sort(key=lambda c: (c.sent.label not in CORE_LABELS, -c.score))
            side = [c for c in own if c not in out and not c.sent.dependent][:per_side]
            out += sorted(side, key=lambda c: (c.n, c.sent.pos))
        words = sum(len(c.sent.text.split()) for c in out)
        for c in picked:
            if len(out) >= self.max_sentences:
                break
            if c not in out and words + len(c.sent.text.split()) <= self.max_words:
                out.append(c)
                words += len(c.sent.text.split())
        while len(out) > 1 and words > self.max_words:
            words -= len(out.pop().sent.text.split())
        return out

    def _central(self, picked: list[_Cand], scored: list[_Cand]) -> list[_Cand]:
        """A definition: the best sentence with its paragraph's opening, then the next one."""
        top = picked[0]
        para = sorted(
            (c for c in scored if c.n == top.n and c.sent.para == top.sent.para),
            key=lambda c: c.sent.pos,
        )
        window = [*[c for c in para if c.sent.pos <= top.sent.pos][:1], top]
        window += [c for c in para if c.sent.pos > top.sent.pos][:1]
        out = list(dict.fromkeys(window))[:3]
        words = sum(len(c.sent.text.split()) for c in out)
        while len(out) > 1 and words > self.max_words * 0.6:
            words -= len(out.pop().sent.text.split())
        for c in picked[1:]:  # then other sentences about as relevant, while they fit
            n_words = len(c.sent.text.split())
            fits = words + n_words <= self.max_words * 0.8
            if len(out) < 3 and c not in out and c.score >= top.score - 0.1 and fits:
                out.append(c)
                words += n_words
        return out

    def _repair(self, picked: list[_Cand], scored: list[_Cand]) -> list[_Cand]:
        """A dependent sentence keeps the sentence before it, or leaves the answer."""
        by_key = {(c.n, c.sent.pos): c for c in scored}
        keep = {(c.n, c.sent.pos): c for c in picked}
        for c in sorted(picked, key=lambda c: (c.n, c.sent.pos)):
            if not c.sent.dependent:
                continue
            prev = by_key.get((c.n, c.sent.pos - 1))
            if prev is not None and (prev.n, prev.sent.pos) in keep:
                continue
            keep.pop((c.n, c.sent.pos), None)
            words = sum(len(k.sent.text.split()) for k in keep.values())
            if (
                prev is not None
                and not prev.sent.dependent
                and prev.sent.para == c.sent.para
                and len(keep) + 2 <= self.max_sentences
                and words + len(prev.sent.text.split()) + len(c.sent.text.split()) <= self.max_words
            ):
                keep[(prev.n, prev.sent.pos)] = prev
                keep[(c.n, c.sent.pos)] = c
        return list(keep.values())

    def _render(self, picked: list[_Cand], passages: list[Chunk]) -> list[str]:
        """Cited sentences: passages in order of their best sentence, sentences in document order."""
        best: dict[int, float] = {}
        for c in picked:
            best[c.n] = max(best.get(c.n, c.score), c.score)
        ordered = sorted(picked, key=lambda c: (-best[c.n], c.n, c.sent.pos))
        parts: list[str] = []
        prev_n = 0
        for c in ordered:
            text = c.sent.text
            if c.sent.field and c.n != prev_n:  # "Time: 1–2 months" needs its subject
                text = f"{_major_heading(passages[c.n - 1])} — {text}"
            parts.append(f"{text} [{c.n}]")
            prev_n = c.n
        return parts

    def _fit(self, parts: list[str], max_tokens: int) -> tuple[str, str]:
        """The cited sentences that fit in ``max_tokens`` tokens, and the finish reason.

        Tokens are the embedding model's (this answerer has no tokenizer of its own). Whole
        sentences are kept while they fit; when not even the first fits, its first words
        with its citation. "length" when anything was left out, as an LLM reports it.
        """
        count = self.embedder.count_tokens
        whole = " ".join(parts)
        if count(whole) <= max_tokens:  # the usual case: one count
            return whole, "stop"
        kept: list[str] = []
        for part in parts:
            if count(" ".join([*kept, part])) > max_tokens:
                break
            kept.append(part)
        else:
            return " ".join(kept), "stop"
        if not kept:
            words, _, marker = parts[0].rpartition(" ")
            cut = words.split()
            while cut and count(" ".join([*cut, marker])) > max_tokens:
                cut.pop()
            kept = [" ".join([*cut, marker])] if cut else []
        return " ".join(kept), "length"

    def generate(self, request: GenerationRequest) -> Generation:
        if not request.passages:
            return Generation(text=NOT_COVERED, usage=Usage(0, 0, exact=True), model=self.model)
        kind = read_question(request.question)
        q = self.embedder.embed_query(request.question)
        scored = self._score(kind, q, request.passages)
        # Never open with a sentence that needs the one before it, when another can open.
        if not scored:
            text = " ".join(
                f"{c.text[:300].strip()} [{n}]" for n, c in enumerate(request.passages[:1], 1)
            )
            text, finish = self._fit([text], request.max_tokens)
            return Generation(text, Usage(0, 0, exact=True), self.model, finish)
        picked = self._pick(kind, scored, request.passages) or [
            max((c for c in scored if not c.sent.dependent), key=lambda c: c.score, default=None)
            or max(scored, key=lambda c: c.score)
        ]
        text, finish = self._fit(self._render(picked, request.passages), request.max_tokens)
        return Generation(text, Usage(0, 0, exact=True), self.model, finish)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        gen = self.generate(request)
        # Stream word by word so clients render progressively, as with an LLM.
        parts = re.split(r"(\s+)", gen.text)
        for i in range(0, len(parts), 8):
            yield "".join(parts[i : i + 8])
        yield gen
