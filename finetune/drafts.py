"""Drafts of corpus Q&A pairs: a question, an answer with a citation slot, its gold passage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.types import Chunk

CITE = "{cite}"  # where the number of the supporting passage goes in a draft answer
GOLD_CHARS = 1500  # a gold passage is about one chunk long
_SYMBOLS = re.compile(r"[❌✔✅⚠️→]+")


def clean(text: str) -> str:
    """Markdown emphasis and decoration removed, whitespace collapsed."""
    text = text.replace("**", "").replace("<br/>", " ")
    text = _SYMBOLS.sub(lambda m: "->" if m.group() == "→" else " ", text)
    return " ".join(text.split())


def norm(text: str) -> str:
    """``clean`` and case-folded: the form texts are compared in."""
    return " ".join(clean(text).casefold().split())


def cited(sentence: str) -> str:
    """The sentence with the citation slot before its final period."""
    body = clean(sentence).rstrip(" .:;")
    return f"{body} {CITE}."


@dataclass(slots=True)
class DraftPair:
    """A question and answer from the corpus, before retrieval gives it passages."""

    question: str
    answer: str  # holds CITE where the supporting passage number goes
    gold: Chunk  # the corpus passage the answer is taken from
    evidence: str  # text a retrieved passage must contain to support the answer
    heading: str  # ... and the heading it must sit under
    origin: str

    def supported_by(self, chunk: Chunk) -> bool:
        if Path(chunk.source).as_posix() != Path(self.gold.source).as_posix():
            return False
        where = norm(f"{chunk.title} {chunk.section} {chunk.text}")
        return norm(self.evidence) in norm(chunk.text) and norm(self.heading) in where
