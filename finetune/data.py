"""Q&A pairs: the JSONL row format, validation with line numbers, dedup and the split.

One row per line::

    {"question": "What is Ridge?",
     "answer": "Ridge adds an L2 penalty on the weights [1].",
     "context": [{"text": "...", "source": "notes/phase-5-core-ml.md",
                  "title": "Phase 5: ...", "section": "Ridge", "url": null}],
     "citations": [1],
     "origin": "notes"}

``question`` and ``answer`` are required. ``context`` holds the passages the model
sees (a plain string is a passage too), numbered [1..n] in order; ``citations`` are
the passage numbers the answer cites (taken from its [n] markers when absent);
``origin`` says where the pair came from (roadmap, notes, curated, ...).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError
from assistant.prompts import build_messages
from assistant.types import Chunk

CURATED_PAIRS = Path(__file__).parent / "data" / "curated_pairs.jsonl"

FIELDS = ("question", "answer", "context", "citations", "origin")
CONTEXT_FIELDS = ("text", "source", "title", "section", "url")
MAX_REPORTED_ERRORS = 20
# A run of [n] markers in prose ("[2][3]"); not an index such as grid[0][1] or f(x)[1].
_CITES = re.compile(r"(?<![\w\]\)])(?:\[\d+\])+")
_CODE = re.compile(r"`[^`]*`")


def make_chunk(
    text: str, *, source: str = "", title: str = "", section: str = "", url: str | None = None
) -> Chunk:
    """A passage as a ``Chunk`` (stable ids from its content), as retrieval would return it."""
    head = " > ".join(p for p in (title, section) if p)
    embedded = f"{head}\n{text}" if head else text
    chunk_id = hashlib.sha256(f"{source}\x00{section}\x00{text}".encode()).hexdigest()[:16]
    content_hash = hashlib.sha256(embedded.encode()).hexdigest()
    return Chunk(chunk_id, source, title, section, text, url, (), content_hash)


@dataclass(slots=True)
class QAPair:
    """A question, the answer to learn, and the numbered passages it is answered from."""

    question: str
    answer: str
    context: list[Chunk] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)  # passage numbers [n] the answer cites
    origin: str = "curated"

    def messages(self) -> list[dict[str, str]]:
        """The serving-time chat messages (no history) for this pair's question and passages."""
        return build_messages(self.question, self.context)

    def key(self) -> str:
        """Duplicate key: the question, case- and whitespace-folded."""
        return " ".join(self.question.casefold().split()).rstrip("?. ")

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "context": [
                {"text": c.text, "source": c.source, "title": c.title, "section": c.section}
                | ({"url": c.url} if c.url else {})
                for c in self.context
            ],
            "citations": self.citations,
            "origin": self.origin,
        }


def cited_numbers(answer: str) -> list[int]:
    """The distinct [n] markers of an answer, in order of first use."""
    prose = _CODE.sub("", answer)  # `code` never cites
    runs = _CITES.findall(prose)
    return list(dict.fromkeys(int(n) for run in runs for n in re.findall(r"\d+", run)))


def _string(row: dict[str, Any], name: str, *, required: bool) -> str:
    value = row.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name!r} is empty")
    return value.strip()


def _context(raw: Any) -> list[Chunk]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"'context' must be a list of passages, got {type(raw).__name__}")
    chunks = []
    for i, item in enumerate(raw, start=1):
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            raise ValueError(f"context passage {i} must be a string or an object")
        unknown = sorted(set(item) - set(CONTEXT_FIELDS))
        if unknown:
            raise ValueError(f"context passage {i} has unknown field {unknown[0]!r}")
        try:
            text = _string(item, "text", required=True)
            meta = {k: _string(item, k, required=False) for k in ("source", "title", "section")}
            url = _string(item, "url", required=False) or None
        except ValueError as exc:
            raise ValueError(f"context passage {i}: {exc}") from None
        chunks.append(make_chunk(text, url=url, **meta))
    return chunks


def parse_row(row: Any) -> QAPair:
    """One decoded JSON row as a pair; ``ValueError`` says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError(f"a row must be a JSON object, got {type(row).__name__}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: {', '.join(FIELDS)})")
    question = _string(row, "question", required=True)
    answer = _string(row, "answer", required=True)
    context = _context(row.get("context"))
    markers = cited_numbers(answer)
    citations = row.get("citations")
    if citations is None:
        citations = markers
    if not isinstance(citations, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in citations
    ):
        raise ValueError(f"'citations' must be a list of passage numbers, got {citations!r}")
    for n in [*citations, *markers]:
        if not 1 <= n <= len(context):
            have = f"{len(context)} context passages" if context else "no context passages"
            raise ValueError(f"the answer cites [{n}] but the row has {have}")
    origin = _string(row, "origin", required=False) or "curated"
    return QAPair(question, answer, context, list(citations), origin)


def load_pairs(path: Path) -> list[QAPair]:
    """Every row of a JSONL file, validated; bad rows are reported by line number."""
    if not path.is_file():
        raise BadInputError(f"no dataset at {path}: expected a JSONL file of Q&A pairs")
    pairs: list[QAPair] = []
    errors: list[str] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                pairs.append(parse_row(json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(f"line {lineno}: not valid JSON ({exc.msg})")
            except ValueError as exc:
                errors.append(f"line {lineno}: {exc}")
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise BadInputError(
            f"{path}: {len(errors)} invalid row(s):\n  " + "\n  ".join(shown) + tail
        )
    if not pairs:
        raise BadInputError(f"{path} holds no Q&A pairs (the file is empty)")
    return pairs


def dedupe(pairs: Sequence[QAPair]) -> tuple[list[QAPair], int]:
    """Keep the first pair of each question (so earlier sources win); return kept and dropped."""
    seen: set[str] = set()
    kept: list[QAPair] = []
    for pair in pairs:
        if pair.key() not in seen:
            seen.add(pair.key())
            kept.append(pair)
    return kept, len(pairs) - len(kept)


def split_pairs(
    pairs: list[QAPair], eval_fraction: float, seed: int
) -> tuple[list[QAPair], list[QAPair]]:
    """Deterministic train/eval split by a seeded hash of each question.

    The same question lands on the same side whatever the row order or duplicates, so
    re-running ``finetune data`` never leaks eval questions into training by reshuffling.
    """
    if len(pairs) < 2:
        raise BadInputError(
            f"need at least 2 Q&A pairs to hold one out for eval loss, got {len(pairs)}"
        )
    if not 0 < eval_fraction < 1:
        raise BadInputError(f"eval_fraction must be in (0, 1), got {eval_fraction}")

    def rank(p: QAPair) -> str:
        return hashlib.sha256(f"{seed}\x00{p.key()}".encode()).hexdigest()

    n_eval = min(len(pairs) - 1, max(1, round(len(pairs) * eval_fraction)))
    held = {id(p) for p in sorted(pairs, key=rank)[:n_eval]}
    train = [p for p in pairs if id(p) not in held]
    evals = [p for p in pairs if id(p) in held]
    return train, evals


def write_pairs(path: Path, pairs: Iterable[QAPair]) -> int:
    """Write pairs as JSONL (atomically: a reader never sees half a file); return the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair.to_json(), ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n
