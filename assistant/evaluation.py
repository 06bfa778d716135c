"""The project's question set and its scores: retrieval (recall@k, hit rate@k, MRR, nDCG@10) and answers.

A question is JSON: ``{"id", "question", "phase", "source", "section"}``; a chunk is
relevant when it comes from ``source`` and ``section`` is its title or one of its headings.
Every relevant chunk of the index counts (a section split into three chunks has three).

Retrieval metrics are computed by ranx over the top ``max(k, 10)`` hits, binary relevance:

- ``recall@k``: relevant chunks in the top k / all relevant chunks of the index;
- ``hit_rate@k``: 1 when any relevant chunk is in the top k (what this module called
  "recall@k" before ranx; the build's ``--eval`` floor is on it);
- ``mrr``: 1 / rank of the first relevant hit (0 when none is in the list);
- ``ndcg@10``: DCG of the top 10 over the ideal DCG of ``min(10, all relevant)`` hits.

A question whose section no chunk carries scores 0 on every metric and still counts.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
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

    @property
    def snapshot(self) -> IndexSnapshot: ...

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


@dataclass(frozen=True, slots=True)
class Ranking:
    """One question's retrieved chunk ids, best first, and every relevant chunk id of the index."""

    retrieved: tuple[str, ...]
    relevant: frozenset[str]

    @property
    def hits(self) -> list[bool]:
        """Relevance of each retrieved chunk, in rank order."""
        return [c in self.relevant for c in self.retrieved]


class RelevanceJudge:
    """The relevant chunks of each question in one index (by source, so lookups stay cheap)."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self._by_source: dict[str, list[Chunk]] = defaultdict(list)
        for c in chunks:
            self._by_source[c.source].append(c)

    def relevant(self, q: Question) -> frozenset[str]:
        return frozenset(c.chunk_id for c in self._by_source.get(q.source, ()) if is_relevant(c, q))

    def rank(self, q: Question, hits: Sequence[SearchHit]) -> Ranking:
        return Ranking(tuple(h.chunk.chunk_id for h in hits), self.relevant(q))


def metric_names(k: int) -> list[str]:
    return [f"recall@{k}", f"hit_rate@{k}", "mrr", "ndcg@10"]


def per_question_metrics(rankings: Sequence[Ranking], k: int) -> dict[str, np.ndarray]:
    """metric -> (Q,) scores by ranx; 0 for a question with nothing relevant or retrieved."""
    from ranx import Qrels, Run, evaluate

    names = metric_names(k)
    out = {m: np.zeros(len(rankings)) for m in names}
    scored = [i for i, r in enumerate(rankings) if r.relevant and r.retrieved]
    if not scored:
        return out
    qrels = Qrels({str(i): {c: 1 for c in rankings[i].relevant} for i in scored})
    # Strictly falling scores keep our order (ranx sorts a run by score).
    run = Run(
        {
            str(i): {
                c: float(len(rankings[i].retrieved) - n)
                for n, c in enumerate(rankings[i].retrieved)
            }
            for i in scored
        }
    )
    values = evaluate(qrels, run, names, return_mean=False)
    for m in names:
        out[m][scored] = np.asarray(values[m], dtype=float)
    return out


def mean_metrics(
    per_question: dict[str, np.ndarray], rows: Sequence[int] | None = None
) -> dict[str, float]:
    """Means over all questions, or over the ``rows`` given."""
    return {
        m: float(v[list(rows)].mean() if rows is not None else v.mean()) if len(v) else 0.0
        for m, v in per_question.items()
    }


def retrieval_metrics(rankings: Sequence[Ranking], k: int) -> dict[str, float]:
    """recall@k, hit_rate@k, MRR and nDCG@10 averaged over the questions (see the module)."""
    return mean_metrics(per_question_metrics(rankings, k))


def evaluate_retrieval(
    searcher: Searcher,
    questions: list[Question],
    k: int = 5,
    mode: Mode = "hybrid",
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Scores of ``searcher.search`` on the question set, overall and per phase.

    ``progress(1)`` is called after each question (a CLI progress bar).
    """
    judge = RelevanceJudge(searcher.snapshot.chunks)
    depth = max(k, 10)
    rankings = []
    for q in questions:
        hits, _ = searcher.search(q.question, depth, mode=mode)
        rankings.append(judge.rank(q, hits))
        if progress is not None:
            progress(1)
    per_q = per_question_metrics(rankings, k)
    by_phase: dict[int, list[int]] = defaultdict(list)
    for i, q in enumerate(questions):
        by_phase[q.phase].append(i)
    return {
        "questions": len(questions),
        "mode": mode,
        "overall": mean_metrics(per_q),
        "by_phase": {p: mean_metrics(per_q, rows) for p, rows in sorted(by_phase.items())},
        "misses": [q.id for q, r in zip(questions, rankings, strict=True) if not any(r.hits[:k])],
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


def evaluate_answers(
    assistant: Any, questions: list[Question], *, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Citation precision (cited passages from the expected source) and faithfulness."""
    from assistant.service import AskOptions

    by_id = {c.chunk_id: c.text for c in assistant.snapshot.chunks}
    precision, faithful, covered = [], [], 0
    for q in questions:
        r = assistant.ask(q.question, AskOptions(k=5, endpoint="eval"))
        if progress is not None:
            progress(1)
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
