"""Study topics read off indexed passages: a topic's core idea, when to use it, its pitfall.

The notes of the corpus write each topic as a heading with three labelled paragraphs
(``**Core idea.**``, ``**When to use it.**``, ``**Common pitfall.**``). Other material has
no labels; a section whose first sentence defines its heading ("X is ...") still gives a
core idea. Every field remembers the chunk it came from, so a question cites its passage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from assistant.types import Chunk

_LABEL = re.compile(r"\*\*(Core idea|When to use it|Common pitfall|Official docs)[.:]?\*\*:?")
_FIELDS = {"Core idea": "core", "When to use it": "when", "Common pitfall": "pitfall"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ABBREV = re.compile(r"(\b(e\.g|i\.e|vs|etc|approx|cf|Fig|No)\.|\b[A-Z]\.)$")
_FENCE = re.compile(r"```.*?(```|$)", re.S)


@dataclass(slots=True)
class Field:
    """One labelled paragraph of a topic and the chunk that holds it."""

    text: str
    chunk_id: str


@dataclass(slots=True)
class Topic:
    """A heading of the study material with what the coach can ask about it."""

    name: str  # the heading, e.g. "Ridge"
    source: str  # notes/phase-5-core-ml.md
    phase: int | None  # first roadmap phase of the source, None if untagged
    fields: dict[str, Field] = field(default_factory=dict)  # core | when | pitfall

    @property
    def key(self) -> str:
        return f"{self.source}#{self.name}"


def sentences(text: str) -> list[str]:
    """Whole prose sentences of a paragraph: code blocks, list markers and fragments removed.

    A code block ends a paragraph, so "scikit-learn minimizes" before a formula is a
    fragment (no closing punctuation) and is dropped rather than glued to what follows.
    """
    out: list[str] = []
    for para in re.split(r"\n\s*\n", _FENCE.sub("\n\n", text)):
        lines = [ln.strip().lstrip("-*0123456789. ").strip() for ln in para.splitlines()]
        prose = " ".join(ln for ln in lines if ln)
        pieces: list[str] = []
        for piece in _SENTENCE.split(prose):
            if pieces and _ABBREV.search(pieces[-1]):
                pieces[-1] += " " + piece  # "e.g. the" does not end a sentence
            else:
                pieces.append(piece)
        for s in (p.strip() for p in pieces):
            # Whole sentences only: a capital (or code) first, closing punctuation last.
            if len(s) > 20 and s[-1] in ".!?)\"'”" and not s[0].islower():
                out.append(s)
    return out


def _paragraphs(text: str) -> dict[str, str]:
    """Label -> paragraph text for the labelled paragraphs present in one chunk."""
    out: dict[str, str] = {}
    marks = list(_LABEL.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        name = _FIELDS.get(m.group(1))
        body = text[m.end() : end].strip()
        if name and body:
            out[name] = body
    return out


def _topic_name(chunk: Chunk) -> str:
    return chunk.section.split(" > ")[-1].strip() if chunk.section else chunk.title


def extract_topics(chunks: Iterable[Chunk]) -> list[Topic]:
    """Topics in corpus order (source, then position); each field from its first chunk."""
    topics: dict[tuple[str, str], Topic] = {}
    for chunk in sorted(chunks, key=lambda c: (c.source, c.ordinal)):
        name = _topic_name(chunk)
        if not name or chunk.source.endswith("roadmap.md"):
            continue
        key = (chunk.source, name)
        topic = topics.get(key)
        if topic is None:
            phase = min(chunk.phases) if chunk.phases else None
            topic = topics[key] = Topic(name=name, source=chunk.source, phase=phase)
        for label, body in _paragraphs(chunk.text).items():
            topic.fields.setdefault(label, Field(body, chunk.chunk_id))
        if "core" not in topic.fields:
            first = sentences(chunk.text)[:1]
            # Unlabelled material: a first sentence that defines the heading is a core idea.
            if first and re.match(
                rf"^(an?\s+|the\s+)?{re.escape(name.rstrip('s'))}s?\s+(is|are|means|refers)\b",
                first[0],
                re.IGNORECASE,
            ):
                topic.fields["core"] = Field(first[0], chunk.chunk_id)
    return [t for t in topics.values() if "core" in t.fields]
