"""Held-out retrieval: real Python 3.11 HTML docs this repository does not contain.

The pages named in ``bench/data/heldout_python_docs_pages.txt`` are copied from Debian's
``python3.11-doc`` (``make system-deps``) into a temp corpus, indexed with the real build
job, and searched with ``HybridRetriever``. Every question of
``bench/data/heldout_python_docs.jsonl`` is asked twice: as written (the docs' wording)
and as a learner would paraphrase it. Prints JSON: recall@5, hit_rate@5, MRR and nDCG@10
(by ranx, see ``assistant.evaluation``) per mode
(dense / bm25 / hybrid with the default settings) and kind, and a sweep of fusion
settings scored on every question set, so defaults are chosen on more than one::

    .venv/bin/python bench/heldout_docs.py                       # temp index, thrown away
    .venv/bin/python bench/heldout_docs.py --index-dir /tmp/hd   # build once, then reuse
    .venv/bin/python bench/heldout_docs.py --own-set             # also corpus/eval on corpus/
    .venv/bin/python bench/heldout_docs.py --check               # expected sections only
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluation import (
    Question,
    Ranking,
    RelevanceJudge,
    load_questions,
    retrieval_metrics,
)
from assistant.index import current_version
from assistant.retrieval import HybridRetriever, Mode
from assistant.searcher import IndexSearcher, Query
from assistant.settings import Settings
from assistant.snapshot import IndexSnapshot
from indexing.build import BuildOptions, build_index

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent

Kind = Literal["written", "paraphrased"]

DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
DATA = REPO / "bench" / "data"
PAGES_FILE = DATA / "heldout_python_docs_pages.txt"
QUESTIONS_FILE = DATA / "heldout_python_docs.jsonl"
OWN_CORPUS = REPO / "corpus"
OWN_QUESTIONS = OWN_CORPUS / "eval"
KINDS: tuple[Kind, ...] = ("written", "paraphrased")
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
K = 5  # recall@K, hit_rate@K
DEPTH = 10  # hits scored per query: nDCG@10 needs ten
RETRIEVER_FIELDS = ("fusion", "dense_weight", "rrf_k", "candidates")

# The fusion settings compared; the candidate count stays at its default.
SWEEP: list[dict[str, Any]] = [
    *(
        {"fusion": "rrf", "dense_weight": w, "rrf_k": k}
        for k in (20, 60)
        for w in (0.3, 0.4, 0.5, 0.6, 0.7)
    ),
    *({"fusion": "weighted", "dense_weight": w} for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)),
]


@dataclass(slots=True, frozen=True)
class HeldoutQuestion:
    """One held-out question in both forms, and where its answer lives."""

    id: str
    source: str  # page relative to the docs root, e.g. "library/functools.html"
    section: str  # a heading (or Sphinx object id) on the chunk's section path
    written: str  # close to the docs' own wording
    paraphrased: str  # a learner's words, mostly without the docs' vocabulary

    def as_question(self, kind: Kind) -> Question:
        text = self.written if kind == "written" else self.paraphrased
        return Question(self.id, text, 0, self.source, self.section)


def read_pages(path: Path = PAGES_FILE) -> list[str]:
    """The page list: one docs-relative path per line, ``#`` comments."""
    lines = (ln.strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def read_heldout(path: Path = QUESTIONS_FILE) -> list[HeldoutQuestion]:
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(HeldoutQuestion(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a held-out question ({exc})") from exc
    return out


def copy_pages(dest: Path, docs_root: Path = DOCS_ROOT) -> Path:
    """Copy the listed pages, keeping their folders, into ``dest`` (the corpus root)."""
    if not docs_root.is_dir():
        raise FileNotFoundError(
            f"{docs_root} is missing: run `make system-deps` (installs python3.11-doc)"
        )
    for rel in read_pages():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(docs_root / rel, target)
    return dest


def build_heldout_index(embedder: SentenceTransformerEmbedder, index_dir: Path) -> dict[str, Any]:
    """Copy the pages into a temp corpus and publish an index of it in ``index_dir``."""
    with tempfile.TemporaryDirectory(prefix="heldout-corpus-") as tmp:
        corpus = copy_pages(Path(tmp))
        report = build_index(BuildOptions(corpus=corpus, index_dir=index_dir), embedder)
    return report.to_json()


def missing_sections(snapshot: IndexSnapshot, questions: list[Question]) -> list[str]:
    """Ids of questions whose expected (source, section) no chunk of the index carries."""
    have = {(c.source, h) for c in snapshot.chunks for h in c.section.split(" > ")}
    return [q.id for q in questions if (q.source, q.section) not in have]


def retriever_from_settings(settings: Settings, **overrides: Any) -> HybridRetriever:
    """The service's retriever (``make_retriever`` without a reranker), fields overridable."""
    kw = {name: getattr(settings, name) for name in RETRIEVER_FIELDS}
    return HybridRetriever(**{**kw, **overrides})


def reciprocal_ranks(ranked: list[Ranking]) -> np.ndarray:
    """(Q,) 1/rank of the first relevant hit, 0 when none is in the list."""
    hits = [r.hits for r in ranked]
    return np.array([1.0 / (rel.index(True) + 1) if any(rel) else 0.0 for rel in hits])


def paired_mrr_ci(a: list[Ranking], b: list[Ranking], draws: int = 5000) -> dict[str, Any]:
    """MRR(a) - MRR(b) on the same questions, with a paired bootstrap 95% interval."""
    diff = reciprocal_ranks(a) - reciprocal_ranks(b)
    rng = np.random.default_rng(0)  # fixed: the same table on every run
    means = diff[rng.integers(0, len(diff), (draws, len(diff)))].mean(axis=1)
    return {
        "diff": round(float(diff.mean()), 4),
        "ci95": [round(float(np.percentile(means, q)), 4) for q in (2.5, 97.5)],
    }


class Scorer:
    """Embeds each question once, then scores any retriever configuration on the set."""

    def __init__(
        self, snapshot: IndexSnapshot, embedder: SentenceTransformerEmbedder, qs: list[Question]
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.questions = qs
        self.judge = RelevanceJudge(snapshot.chunks)
        self.queries = [Query(q.question, embedder) for q in qs]
        for query in self.queries:
            _ = query.vector  # embedded once here, reused by every configuration

    def ranked(self, retriever: HybridRetriever, mode: Mode = "hybrid") -> list[Ranking]:
        """Per question, the top ``DEPTH`` chunk ids and every relevant chunk id."""
        searcher = IndexSearcher.fixed(self.snapshot, self.embedder, retriever)
        out = []
        for q, query in zip(self.questions, self.queries, strict=True):
            hits = searcher.retrieve(self.snapshot, query, DEPTH, mode=mode)
            out.append(self.judge.rank(q, hits))
        return out

    def score(self, retriever: HybridRetriever, mode: Mode = "hybrid") -> dict[str, Any]:
        ranked = self.ranked(retriever, mode)
        metrics = {m: round(v, 4) for m, v in retrieval_metrics(ranked, K).items()}
        misses = [q.id for q, r in zip(self.questions, ranked, strict=True) if not any(r.hits[:K])]
        return {**metrics, "misses": misses}


def _ensure_index(index_dir: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """Build into ``index_dir`` unless a version is already published there (then reuse it)."""
    if current_version(index_dir) is not None:
        return None
    return build()


def _summary(scores: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Across question sets: mean and worst hit_rate@5 and MRR (a robust default scores well on all)."""
    recalls = [s[f"hit_rate@{K}"] for s in scores.values()]
    mrrs = [s["mrr"] for s in scores.values()]
    return {
        "mean_hit_rate@5": round(sum(recalls) / len(recalls), 4),
        "min_hit_rate@5": round(min(recalls), 4),
        "mean_mrr": round(sum(mrrs) / len(mrrs), 4),
        "min_mrr": round(min(mrrs), 4),
    }


def _sweep(
    settings: Settings, scorers: dict[str, Scorer], baselines: dict[str, dict[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Every ``SWEEP`` setting on every question set, and whether it beats both single modes."""
    rows = []
    for config in SWEEP:
        retriever = retriever_from_settings(settings, **config)
        scores = {name: s.score(retriever) for name, s in scorers.items()}
        row: dict[str, Any] = dict(config)
        row.update({n: {m: v for m, v in sc.items() if m != "misses"} for n, sc in scores.items()})
        row["across_sets"] = _summary(scores)
        row["beats_dense_and_bm25_by_mrr_on_every_set"] = all(
            sc["mrr"] > max(baselines[n]["dense"]["mrr"], baselines[n]["bm25"]["mrr"])
            for n, sc in scores.items()
        )
        rows.append(row)
    return rows


def run(
    index_dir: Path, *, own_index_dir: Path | None = None, check_only: bool = False
) -> dict[str, Any]:
    """Build (or reuse) the indexes and score every mode, kind and sweep setting."""
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model)
    t0 = time.perf_counter()
    report = _ensure_index(index_dir, lambda: build_heldout_index(embedder, index_dir))
    build_s = time.perf_counter() - t0
    snapshot = IndexSnapshot.load(index_dir, model_name=embedder.model_name)
    heldout = read_heldout()
    sets = {kind: [h.as_question(kind) for h in heldout] for kind in KINDS}
    missing = missing_sections(snapshot, sets["written"])
    out: dict[str, Any] = {
        "corpus": {
            "pages": len(read_pages()),
            "chunks": len(snapshot.chunks),
            "build_seconds": round(build_s, 1) if report else None,
            "build_stages_seconds": report["seconds"] if report else None,
        },
        "questions": len(heldout),
        "missing_sections": missing,
    }
    if check_only or missing:
        return out
    scorers = {f"heldout_{kind}": Scorer(snapshot, embedder, qs) for kind, qs in sets.items()}
    if own_index_dir is not None:
        own_build = BuildOptions(corpus=OWN_CORPUS, index_dir=own_index_dir)
        _ensure_index(own_index_dir, lambda: build_index(own_build, embedder).to_json())
        own = IndexSnapshot.load(own_index_dir, model_name=embedder.model_name)
        scorers["own"] = Scorer(own, embedder, load_questions(OWN_QUESTIONS))
    default = retriever_from_settings(settings)
    out["settings"] = {name: getattr(default, name) for name in RETRIEVER_FIELDS}
    ranked = {(n, m): s.ranked(default, m) for n, s in scorers.items() for m in MODES}
    out["modes"] = {
        n: {
            m: {k: round(v, 4) for k, v in retrieval_metrics(ranked[(n, m)], K).items()}
            for m in MODES
        }
        for n in scorers
    }
    out["misses"] = {
        n: {
            m: [
                q.id
                for q, r in zip(s.questions, ranked[(n, m)], strict=True)
                if not any(r.hits[:K])
            ]
            for m in MODES
        }
        for n, s in scorers.items()
    }
    out["hybrid_minus"] = {
        n: {m: paired_mrr_ci(ranked[(n, "hybrid")], ranked[(n, m)]) for m in ("dense", "bm25")}
        for n in scorers
    }
    out["sweep"] = _sweep(settings, scorers, out["modes"])
    winners = [r for r in out["sweep"] if r["beats_dense_and_bm25_by_mrr_on_every_set"]]
    best = max(winners or out["sweep"], key=lambda r: r["across_sets"]["mean_mrr"])
    out["best"] = {k: best[k] for k in ("fusion", "dense_weight", "rrf_k") if k in best}
    out["best"]["beats_both_by_mrr_on_every_set"] = bool(winners)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--index-dir",
        type=Path,
        help="held-out index: built here if none is published, else reused",
    )
    parser.add_argument(
        "--own-set", action="store_true", help="also score corpus/eval over corpus/"
    )
    parser.add_argument("--own-index-dir", type=Path, help="index of corpus/ to build or reuse")
    parser.add_argument("--check", action="store_true", help="only check expected sections exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="heldout-docs-") as tmp:
        own = args.own_index_dir or (Path(tmp) / "own-index" if args.own_set else None)
        out = run(args.index_dir or Path(tmp) / "index", own_index_dir=own, check_only=args.check)
    print(json.dumps(out, indent=2))
    return 1 if out["missing_sections"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
