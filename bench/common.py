"""Shared by the index benchmarks: a deterministic synthetic corpus made from the real notes.

``write_synthetic_corpus`` recombines the paragraphs of ``corpus/notes/*.md`` and
``corpus/roadmap.md`` into Markdown files (``phase-N-unit-XXXX.md``, so every file carries a
roadmap phase), shuffling sentences and adding one unique sentence per paragraph so every
chunk is distinct, until the files chunk into at least ``target_chunks`` chunks with the
pipeline's own chunker. The same seed and target always give the same files.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from indexing.chunking import TokenChunker  # noqa: E402
from indexing.loaders import load_file  # noqa: E402
from indexing.loaders.markdown import parse_markdown  # noqa: E402

CORPUS = REPO / "corpus"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_TOPICS = [
    "gradient descent", "feature scaling", "cross-validation", "tokenization", "caching",
    "data pipelines", "unit tests", "model serving", "embeddings", "regularization",
    "batching", "monitoring", "hash maps", "recursion", "attention", "reward shaping",
]  # fmt: skip


def real_paragraphs() -> list[tuple[str, str]]:
    """(heading, paragraph) of every prose paragraph of the real notes and roadmap."""
    out: list[tuple[str, str]] = []
    files = [*sorted((CORPUS / "notes").glob("*.md")), CORPUS / "roadmap.md"]
    for f in files:
        for section in parse_markdown(f.read_text(encoding="utf-8")).sections:
            heading = section.headings[-1] if section.headings else f.stem
            for para in section.text.split("\n\n"):
                para = para.strip()
                if len(para) >= 80 and not para.startswith(("```", "|")):
                    out.append((heading, para))
    return out


def _vary(para: str, rng: random.Random, tag: str) -> str:
    sentences = _SENTENCE.split(para)
    if len(sentences) > 2 and rng.random() < 0.5:
        rng.shuffle(sentences)
    topic = rng.choice(_TOPICS)
    sentences.append(f"Unit note {tag}: relate this to {topic} (example {rng.randint(1, 9999)}).")
    return " ".join(sentences)


def _unit(index: int, pool: list[tuple[str, str]], rng: random.Random) -> tuple[str, str]:
    """(file name, Markdown text) of synthetic unit ``index``."""
    phase = 1 + index % 9
    title_heading, _ = rng.choice(pool)
    lines = [f"# Unit {index}: {title_heading}", ""]
    for s in range(rng.randint(3, 5)):
        picked = rng.sample(pool, rng.randint(2, 4))
        lines += [f"## {picked[0][0]} ({index}.{s})", ""]
        for p, (_, para) in enumerate(picked):
            lines += [_vary(para, rng, f"{index}.{s}.{p}"), ""]
    return f"phase-{phase}-unit-{index:04d}.md", "\n".join(lines)


def write_synthetic_corpus(
    root: Path,
    target_chunks: int,
    tokenizer: Any,
    *,
    seed: int = 0,
    chunk_size: int = 200,
    chunk_overlap: int = 32,
) -> dict[str, int]:
    """Write units into ``root`` until they make ``target_chunks`` chunks; returns counts."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = real_paragraphs()
    chunker = TokenChunker(tokenizer, chunk_size, chunk_overlap)
    chunks = files = 0
    while chunks < target_chunks:
        name, text = _unit(files, pool, rng)
        path = root / name
        path.write_text(text, encoding="utf-8")
        chunks += len(chunker.chunk(load_file(path, name, max_bytes=10_000_000)))
        files += 1
    return {"files": files, "chunks": chunks, "paragraph_pool": len(pool)}


def edit_one_file(root: Path) -> str:
    """Change one sentence of the first unit (a maintainer's typo fix); returns its name."""
    path = sorted(root.glob("*.md"))[0]
    text = path.read_text(encoding="utf-8")
    marker = "Unit note 0.0.0:"
    assert marker in text, f"{path} has no {marker!r}"
    path.write_text(text.replace(marker, "Unit note 0.0.0 (revised):", 1), encoding="utf-8")
    return path.name


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[pos]


def machine() -> dict[str, Any]:
    """Where the numbers were taken: cores, load, library versions."""
    import faiss
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "faiss": faiss.__version__,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    t = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - t, 3)


def emit(data: dict[str, Any]) -> None:
    """The one JSON document a benchmark prints on stdout."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
