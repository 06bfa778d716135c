"""The project's question set and its scores: retrieval (recall@k, MRR, nDCG@10) and answers.

A question is JSON: ``{"id", "question", "phase", "source", "section"}``; a retrieved
chunk is relevant when it comes from ``source`` and ``section`` is one of its headings.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.errors import BadInputError
from assistant.protocols import Embedder
from assistant.retrieval import Mode
from assistant.searcher import IndexSearcher
from assistant.snapshot import IndexSnapshot
from assistant.types import Chunk, SearchHit

_SENT = re.compile(r"(?<=[.!?])\s+")
_CITE = re.compile(r"\[\d+\]")
_PHASE_PREFIX = re.compile(r"(^|(?<=[.!?] ))Phase \d+:[^—]{0,80}—\s*")


class Searcher(Protocol):
    """Anything that searches like the service (``IndexSearcher``, ``StudyAssistant``)."""

    def search(
        self, query: str, k: int, *, mode: Mode = "hybrid"
    ) -> tuple[list[SearchHit], str]: ...


@dataclass(slots=True, frozen=True)
class Question:
    id: str
    question: str
    phase: int
    source: str
    section: str


def load_questions(path: Path) -> list[Question]:
    """A JSONL file, or every ``*.jsonl`` in a folder; bad rows name file and line."""
    # In a folder, ``answers-*.jsonl`` are reference-answer sets (another format), not questions.
    files = (
        sorted(f for f in path.glob("*.jsonl") if not f.name.startswith("answers-"))
        if path.is_dir()
        else [path]
    )
    if not files or not all(f.is_file() for f in files):
        raise BadInputError(f"no question set at {path}")
    out: list[Question] = []
    for f in files:
        for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(
                    Question(
                        str(d["id"]), d["question"], int(d["phase"]), d["source"], d["section"]
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise BadInputError(f"{f}:{lineno}: not a valid question ({exc})") from exc
    return out


def is_relevant(chunk: Chunk, q: Question) -> bool:
    """Same source, and the expected heading is the title (H1) or on the section path."""
    if chunk.source != q.source:
        return False
    return q.section == chunk.title or q.section in chunk.section.split(" > ")


def retrieval_metrics(ranked: list[list[bool]], k: int) -> dict[str, float]:
    """recall@k (any relevant in top k), MRR, nDCG@10 (binary gains) over queries."""
    if not ranked:
        return {f"recall@{k}": 0.0, "mrr": 0.0, "ndcg@10": 0.0}
    recall = mrr = ndcg = 0.0
    for rel in ranked:
        recall += any(rel[:k])
        first = next((i for i, r in enumerate(rel) if r), None)
        mrr += 1.0 / (first + 1) if first is not None else 0.0
        dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(rel[:10]) if r)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(10, sum(rel[:10]) or 1)))
        ndcg += dcg / ideal if any(rel[:10]) else 0.0
    n = len(ranked)
    return {f"recall@{k}": recall / n, "mrr": mrr / n, "ndcg@10": ndcg / n}


def evaluate_retrieval(
    searcher: Searcher, questions: list[Question], k: int = 5, mode: Mode = "hybrid"
) -> dict[str, Any]:
    """Scores of ``searcher.search`` on the question set, overall and per phase."""
    per_phase: dict[int, list[list[bool]]] = defaultdict(list)
    ranked = []
    depth = max(k, 10)
    for q in questions:
        hits, _ = searcher.search(q.question, depth, mode=mode)
        rel = [is_relevant(h.chunk, q) for h in hits]
        ranked.append(rel)
        per_phase[q.phase].append(rel)
    return {
        "questions": len(questions),
        "mode": mode,
        "overall": retrieval_metrics(ranked, k),
        "by_phase": {p: retrieval_metrics(r, k) for p, r in sorted(per_phase.items())},
        "misses": [q.id for q, rel in zip(questions, ranked, strict=True) if not any(rel[:k])],
    }


def faithfulness(
    answer: str, cited: list[str], embedder: Embedder, threshold: float = 0.6
) -> float:
    """Share of answer sentences whose best cosine match among cited passages' sentences ≥ threshold."""
    # A roadmap field line is shown under its phase ("Phase 3: Tooling — Goal: ..."): the
    # claim is the line, the prefix only says where it stands.
    answer = _PHASE_PREFIX.sub("", " ".join(_CITE.sub("", answer).split()))
    sentences = [s.strip() for s in _SENT.split(answer) if len(s.strip()) > 20]
    # Passages are Markdown: a line (a list item, a "**Time:** 1–2 months" field) is a unit
    # of its own, as are the sentences within a line.
    support = [
        s
        for text in cited
        for line in text.splitlines()
        for s in _SENT.split(line)
        if len(s.strip()) > 20
    ]
    if not sentences:
        return 1.0
    if not support:
        return 0.0
    a = embedder.embed_documents(sentences)
    b = embedder.embed_documents(support)
    best = (a @ b.T).max(axis=1)
    return float(np.mean(best >= threshold))


def evaluate_answers(assistant: Any, questions: list[Question]) -> dict[str, Any]:
    """Citation precision (cited passages from the expected source) and faithfulness."""
    from assistant.service import AskOptions

    by_id = {c.chunk_id: c.text for c in assistant.snapshot.chunks}
    precision, faithful, covered = [], [], 0
    for q in questions:
        r = assistant.ask(q.question, AskOptions(k=5, endpoint="eval"))
        if not r.citations:
            precision.append(0.0)
            faithful.append(0.0)
            continue
        covered += 1
        precision.append(sum(c.source == q.source for c in r.citations) / len(r.citations))
        texts = [by_id.get(c.chunk_id, c.snippet) for c in r.citations]
        faithful.append(faithfulness(r.answer, texts, assistant.embedder))
    n = len(questions) or 1
    return {
        "questions": len(questions),
        "answered_with_citations": covered / n,
        "citation_precision": float(np.mean(precision)) if precision else 0.0,
        "faithfulness": float(np.mean(faithful)) if faithful else 0.0,
    }


def evaluate_version_dir(
    path: Path, embedder: Embedder, questions: list[Question], settings: Any
) -> dict[str, Any]:
    """Retrieval scores of an unpublished version directory (for `index build --eval`)."""
    from assistant.factory import make_retriever

    snap = IndexSnapshot.load(
        path.parent.parent,
        path.name,
        model_name=embedder.model_name,
        backend=getattr(embedder, "backend", None),
    )
    searcher = IndexSearcher.fixed(snap, embedder, make_retriever(settings))
    result = evaluate_retrieval(searcher, questions, k=5)
    return {**result["overall"], "questions": result["questions"]}
