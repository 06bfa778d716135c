"""A passage as readable sentences, each with what the extractive answerer needs to know.

Besides the text, a sentence knows its paragraph's bold label ("**Core idea.**",
"**Goal:**"), whether it leads its paragraph, whether it is a ``Label: value`` field line
(roadmap style), and whether it *depends* on the sentence before it ("It also…", "This…",
"They…"), so it may not stand alone in an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.lru import LRU

if TYPE_CHECKING:
    from assistant.protocols import Embedder
    from assistant.types import Chunk

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|vs|etc|approx|cf|Fig|No)\.|\b[A-Z]\.)$")
_FENCE = re.compile(r"```.*?```", re.DOTALL)
_MD_NOISE = re.compile(r"\*\*|__|^#+\s*|^\s*[-*+]\s+|^\s*\d+\.\s+|^\s*>\s?", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)")
_MARKERS = re.compile(r"[❌✔✅✓✗⚠️👉]+\s*")
# "**Core idea.** Text" or "**When to use it:** text": a short bold label opening a paragraph.
_LABEL = re.compile(r"^\*\*([A-Z][^*\n]{0,40}?)[.:]\*\*\s*")
# "**Time:** 1–2 months": a field line (the value may continue on the next lines).
_FIELD = re.compile(r"^\s*\*\*([A-Z][\w /&-]{0,30}):\*\*\s*(.*)$")
# A noun phrase that only reads as a sentence after its label ("**Common pitfall.** Not
# scaling features first."): a gerund, a negation, or a short phrase.
_FRAGMENT = re.compile(
    r"^(\w{3,}ing\b|not\b|no\b|too\b|missing\b|hidden\b|(\S+\s+){0,5}\S+[.!?]$)", re.I
)
_CENTRAL = frozenset(["core idea", "definition", "overview", "summary", "key idea"])
_CONNECTIVE = re.compile(
    r"^(also|however|so|but|and|then|thus|therefore|instead|likewise|similarly|in practice|"
    r"in short|that said|in other words|for example|for instance)\s*,?\s+",
    re.IGNORECASE,
)
# Openers that refer back to something the previous sentence introduced.
DEPENDENT_OPENER = re.compile(
    r"^(it|its|it's|this|these|that|those|they|their|them|such|both|here|he|she|"
    r"the former|the latter|the same|the other|another|in this case|as a result|"
    r"instead|likewise|similarly|otherwise|in contrast|by contrast|on the other hand|"
    r"in other words|that said|then|thus|hence|therefore)\b",
    re.IGNORECASE,
)
# A sentence cut before a removed code block ends with a verb ("... attention is:").
_OPEN_ENDED = re.compile(
    r"\b(is|are|was|be|as|like|follows|minimizes|maximizes|gives|reads|becomes|looks|"
    r"computes|returns|means|uses|with|to|of|the|a|an|by|for|from|and|or|e\.g|i\.e)\s*:$",
    re.IGNORECASE,
)


@dataclass(slots=True, frozen=True)
class Sentence:
    text: str  # as shown in an answer
    pos: int  # index among the passage's sentences
    para: int  # index of its paragraph
    label: str  # lowercased bold label of its paragraph ("core idea"), "" if none
    leads: bool  # first sentence of its paragraph
    dependent: bool  # needs the sentence before it
    field: bool  # a "Label: value" line


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


def _fields(para: str) -> tuple[list[tuple[str, str]], str]:
    """("Time", "1–2 months") field lines of a paragraph, and the rest of its lines."""
    fields: list[tuple[str, str]] = []
    rest: list[str] = []
    for line in para.splitlines():
        m = _FIELD.match(line)
        if m:
            fields.append((m.group(1).strip(), m.group(2).strip()))
        elif fields and not fields[-1][1] and line.strip():
            name, _ = fields[-1]  # "**Focus:**" followed by its items on the next lines
            fields[-1] = (name, line.strip())
        elif fields and fields[-1][1] and _MARKERS.match(line.strip()):
            name, value = fields[-1]
            fields[-1] = (name, f"{value}; {line.strip()}")
        else:
            rest.append(line)
    return fields, "\n".join(rest)


def _clean(text: str) -> str:
    text = _MARKERS.sub("", _MD_NOISE.sub("", text))
    return " ".join(text.split())


def parse_passage(text: str) -> list[Sentence]:
    """Readable prose sentences of a passage (code blocks, bare links, fragments dropped)."""
    text = _LINK.sub(r"\1", _FENCE.sub("\n\n", text))
    out: list[Sentence] = []

    def add(s: str, para: int, label: str, leads: bool, field: bool = False) -> None:
        dependent = bool(DEPENDENT_OPENER.match(s)) or bool(
            DEPENDENT_OPENER.match(_drop_connective(s))
        )
        out.append(Sentence(_drop_connective(s), len(out), para, label, leads, dependent, field))

    last_label = ""
    for p, raw in enumerate(re.split(r"\n\s*\n", text)):
        fields, raw = _fields(raw)
        for name, value in fields:
            value = _clean(_LINK.sub(r"\1", value)).strip(" ;")
            if value and not re.search(r"https?://|\bwww\.", value):  # not a bare link
                end = "" if value.endswith((".", "!", "?")) else "."
                add(f"{name}: {value[:1].upper()}{value[1:]}{end}", p, name.lower(), True, True)
        m = _LABEL.match(raw.strip())
        # A paragraph without a label of its own (often the rest of a labelled paragraph,
        # cut by a code block) belongs to the last label above it.
        label = m.group(1).strip().lower() if m else last_label
        last_label = label
        para = _clean(raw.strip()[m.end() :] if m else raw)
        first = True
        for s in _merge_abbreviations(_SENTENCE_END.split(para)):
            s = s.strip()
            if s.endswith(":") and not _OPEN_ENDED.search(s) and len(s.split()) >= 6:
                s = s[:-1].rstrip() + "."  # "LoRA represents W as a product of two matrices:"
            # Skip fragments, table rows, "Official docs: <url>" lines, and sentences cut off
            # by a removed code block ("scikit-learn minimizes") or leading into one ("...:").
            if len(s) < 25 or s.count("|") > 2 or re.match(r"(?i)official docs?:", s):
                continue
            if not s.rstrip("*_`)\"'").endswith((".", "!", "?")) or s[0].islower():
                first = False
                continue  # a lowercase start continues a sentence broken by a code block
            if first and label and label not in _CENTRAL and _FRAGMENT.match(s) and m:
                s = f"{m.group(1).strip()}: {s}"  # "Common pitfall: Not scaling features first."
            add(s, p, label, first)
            first = False
    return out


def split_sentences(text: str) -> list[str]:
    """Readable prose sentences of a passage (code blocks and bare links dropped)."""
    return [s.text for s in parse_passage(text)]


def embed_texts(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """(len(texts), dimension) float32 vectors of ``texts`` embedded as one batch."""
    if not texts:
        return np.zeros((0, embedder.dimension), np.float32)
    return np.asarray(embedder.embed_documents(texts), np.float32)


class SentenceVectors:
    """Each passage's prose sentences (``parse_passage``) and their vectors, embedded once
    per process (an LRU by chunk id) in one batch of their own: int8 vectors move a little
    with their batch, so a sentence's vector does not depend on who asked first. The
    not-covered check and the extractive answerer share one."""

    def __init__(self, embedder: Embedder, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self._cache: LRU[str, tuple[list[Sentence], np.ndarray]] = LRU(cache_size)

    def __call__(self, chunk: Chunk) -> tuple[list[Sentence], np.ndarray]:
        hit = self._cache.get(chunk.chunk_id)
        if hit is None:
            sents = parse_passage(chunk.text)
            hit = (sents, embed_texts(self.embedder, [s.text for s in sents]))
            self._cache.put(chunk.chunk_id, hit)
        return hit
