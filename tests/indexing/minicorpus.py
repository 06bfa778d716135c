"""A small Markdown corpus written per test, and a counting embedder over the real model.

Shared by the build, format, retrieval and CLI tests: a few files, ~20 chunks, so a
build takes about a second with the session's all-MiniLM-L6-v2.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import CHUNKS, VERSIONS, current_version, read_chunks
from assistant.types import Chunk

GUIDE = """\
# Study Guide

This guide walks through the core ideas a machine learning engineer uses every week.

## Phase 5: Core ML

Classical models are the baseline every deep model has to beat.

### Ridge Regression

Ridge regression adds an L2 penalty on the coefficients to the least squares loss.
The penalty shrinks large weights towards zero and stabilises the solution when
features are correlated. The strength of the penalty is the hyperparameter alpha.

### Lasso

The lasso adds an L1 penalty instead. It drives some coefficients exactly to zero,
so it doubles as feature selection when many features are irrelevant.

## Phase 6: Deep Learning

### Dropout

Dropout randomly zeroes activations during training so that units cannot co-adapt.
At inference time every unit is kept and activations are scaled to match.

### Batch Normalization

Batch normalization standardises each layer's inputs over the mini-batch, which lets
networks train with larger learning rates.

## Glossary

A hyperparameter is a setting chosen before training, such as the learning rate.
"""

RL_NOTES = """\
# Reinforcement Learning Notes

## Q-learning

Q-learning learns the value of taking an action in a state and then acting greedily.
The update moves Q(s, a) towards the reward plus the discounted best next value.

## Exploration

{long}
"""

TOOLS_TXT = """\
Git tracks changes to files in commits. A branch is a movable pointer to a commit,
and a pull request asks teammates to review and merge a branch.
"""

SOURCES_TOML = """\
[[source]]
path = "guide.md"
phases = [5, 6]

[[source]]
path = "notes/*.md"
phases = [7]

[[source]]
path = "notes/tools.txt"
title = "Tooling"
phases = [3]
"""


def long_paragraph(n: int = 40) -> str:
    """One paragraph of ``n`` short distinct sentences (several chunks at chunk_size 200)."""
    actions = ["explores", "exploits", "samples", "revisits", "skips", "ranks", "tests"]
    things = ["a new state", "the best arm", "a random action", "an old route", "a rare path"]
    return " ".join(
        f"Episode {i} {actions[i % len(actions)]} {things[i % len(things)]} "
        f"with epsilon {100 - 2 * i} percent."
        for i in range(n)
    )


def write_corpus(root: Path, *, sources_toml: bool = True, long_sentences: int = 6) -> Path:
    """guide.md, notes/phase-7-rl.md, notes/tools.txt (+ sources.toml); returns ``root``.

    Every chunk is short by default (the model pads a batch to its longest text, so one
    long chunk makes every build slower); ``long_sentences=40`` gives a section of ~9
    windows at chunk_size 64.
    """
    (root / "notes").mkdir(parents=True, exist_ok=True)
    (root / "guide.md").write_text(GUIDE, encoding="utf-8")
    (root / "notes" / "phase-7-rl.md").write_text(
        RL_NOTES.format(long=long_paragraph(long_sentences)), encoding="utf-8"
    )
    (root / "notes" / "tools.txt").write_text(TOOLS_TXT, encoding="utf-8")
    if sources_toml:
        (root / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    return root


def build(embedder: Any, corpus: Path, index_dir: Path, **kw: Any) -> Any:
    """``build_index`` with BuildOptions fields and build_index keywords in one call."""
    from indexing.build import BuildOptions, build_index

    call = {k: kw.pop(k) for k in list(kw) if k in _CALL_KEYWORDS}
    return build_index(BuildOptions(corpus=corpus, index_dir=index_dir, **kw), embedder, **call)


_CALL_KEYWORDS = (
    "fetcher",
    "chunk_size",
    "chunk_overlap",
    "evaluate",
    "min_recall",
    "progress",
    "engine",
)


class Template:
    """A corpus and its built index, made once; ``copy`` gives a test its own pair."""

    def __init__(self, embedder: Any, root: Path, **corpus_kw: Any) -> None:
        self.corpus = write_corpus(root / "corpus", **corpus_kw)
        self.index_dir = root / "index"
        self.report = build(embedder, self.corpus, self.index_dir)

    def copy(self, dest: Path) -> tuple[Path, Path]:
        """(corpus, index_dir) under ``dest``, identical to a fresh build of the corpus."""
        corpus, index_dir = dest / "corpus", dest / "index"
        shutil.copytree(self.corpus, corpus, symlinks=True)
        shutil.copytree(self.index_dir, index_dir, symlinks=True)
        return corpus, index_dir


def published_chunks(index_dir: Path) -> list[Chunk]:
    version = current_version(index_dir)
    assert version is not None, f"nothing published in {index_dir}"
    return read_chunks(index_dir / VERSIONS / version / CHUNKS)


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed (implements the same protocol).

    ``model_name`` can be overridden to simulate a change of embedding model.
    """

    def __init__(self, inner: Any, model_name: str | None = None) -> None:
        self._inner = inner
        self.model_name = model_name or inner.model_name
        self.dimension = inner.dimension
        self.max_seq_length = inner.max_seq_length
        self.tokenizer = inner.tokenizer
        self.backend = getattr(inner, "backend", "torch")  # recorded in the manifest
        self.calls = 0
        self.texts: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        return self._inner.embed_documents(texts)  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)  # type: ignore[no-any-return]


# --- which files a build opens ------------------------------------------------------------
_RECORDERS: list[list[str]] = []  # one list per open ``opened_files`` block
_HOOKED: list[bool] = []


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    # CPython raises "open" for every io.open / os.open with the path as the first argument.
    if event == "open" and _RECORDERS and isinstance(args[0], str | bytes | os.PathLike):
        path = os.path.realpath(os.fsdecode(args[0]))
        for paths in _RECORDERS:
            paths.append(path)


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """The real paths this process opens inside the block, once per open (audit events).

    The hook stays installed (audit hooks cannot be removed) but records only inside a block.
    """
    if not _HOOKED:
        sys.addaudithook(_on_audit)
        _HOOKED.append(True)
    paths: list[str] = []
    _RECORDERS.append(paths)
    try:
        yield paths
    finally:
        _RECORDERS[:] = [r for r in _RECORDERS if r is not paths]  # by identity


def corpus_reads(paths: list[str], corpus: Path) -> dict[str, int]:
    """How often each corpus file but sources.toml was opened, by path relative to ``corpus``."""
    root = corpus.resolve()
    counts: dict[str, int] = {}
    for path in paths:
        rel = Path(path).relative_to(root).as_posix() if path.startswith(f"{root}/") else None
        if rel is not None and rel != "sources.toml":
            counts[rel] = counts.get(rel, 0) + 1
    return counts
