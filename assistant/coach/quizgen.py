"""The question bank of one index version: multiple choice, cloze and short answer.

Deterministic: the same chunks give the same questions with the same ids, so a bank can
be rebuilt from a published version at any time and a learner's cards keep their ids
across rebuilds as long as the passage that answers them is unchanged. No model needed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from assistant.coach.topics import Topic, sentences

QuestionType = Literal["mcq", "short", "cloze"]
BLANK = "_____"
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#'-]{2,}")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,6}s?\b")
_CODE = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]{2,30})`")
_STOP = frozenset(
    """the and for with that this from into when then than are was were been being have has
    had not but you your its it's their there them they what which who whom how why
    where can could should would will may might must also only just more most less least
    very each every any all some such other another one two three first second same
    different use used uses using make makes made like over under between about after
    before while both either neither does did doing done per via e.g i.e etc""".split()  # noqa: SIM905
)
# Words too common in this field to hide: masking them would blank half the sentence.
_GENERIC = frozenset(
    """model data learning training network feature function value method system version
    versioning process engineering""".split()  # noqa: SIM905
)
# Python keywords and builtins: in backticks they are code, not the idea being taught.
_CODE_WORDS = frozenset(
    """for while def class return yield import from lambda with try except finally raise
    pass break continue and not None True False self len print list dict set tuple int str
    float bool range open""".lower().split()
)


@dataclass(slots=True)
class Question:
    """One quiz question, tied to the passage (chunk) that answers it."""

    id: str
    type: QuestionType
    prompt: str
    expected: str  # the answer shown after grading
    accepted: list[str]  # exact-match answers (mcq, cloze); empty for short answers
    key_terms: list[str]  # what a short answer should mention
    explanation: str  # the passage sentence(s) that answer it
    chunk_id: str
    source: str
    phase: int | None
    topic: str
    options: list[str] | None = None

    def public(self) -> dict[str, Any]:
        """What the learner sees before answering (no answer, no key terms)."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "prompt": self.prompt,
            "phase": self.phase,
            "topic": self.topic,
        }
        if self.options is not None:
            out["options"] = list(self.options)
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Question:
        return cls(**d)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def name_variants(name: str) -> list[str]:
    """ "Gradient boosting (XGBoost)" -> the name, "Gradient boosting", "XGBoost"."""
    out = [name]
    base = re.sub(r"\s*\(.*?\)", "", name).strip()
    out += [base, *re.findall(r"\((.*?)\)", name)]
    for part in re.split(r",\s*|\s+and\s+|\s+vs\.?\s+|/", base):
        out.append(part.strip())
    return [v for v in dict.fromkeys(out) if len(v) >= 2]


@functools.lru_cache(maxsize=8192)
def _pattern(template: str, value: str, flags: int = 0) -> re.Pattern[str]:
    """``template`` with ``value`` escaped into it, compiled once: a build asks thousands
    of times for a few hundred names, more than ``re``'s own cache of 512 holds."""
    return re.compile(template.format(re.escape(value)), flags)


_WHOLE = "(?<![A-Za-z0-9]){}(?![A-Za-z0-9])"


def mentions(text: str, name: str) -> bool:
    low = text.lower()
    return any(_pattern(_WHOLE, v.lower()).search(low) for v in name_variants(name))


def _mask(text: str, name: str) -> str:
    """Hide the topic's name, its variants and their word stems ("policy-gradient")."""
    for v in sorted(name_variants(name), key=len, reverse=True):
        text = _pattern(_WHOLE, v, re.I).sub("this", text)
    stems = {
        w.lower().rstrip("s")[:6]
        for w in _WORD.findall(name)
        if len(w) >= 6 and w.lower().rstrip("s") not in _GENERIC
    }
    for stem in stems:
        text = _pattern(r"\b{}[A-Za-z-]*", stem, re.I).sub("…", text)
    return text


@dataclass(slots=True)
class _Idf:
    df: Counter[str] = field(default_factory=Counter)
    n: int = 0

    def weight(self, word: str) -> float:
        return math.log((1 + self.n) / (1 + self.df[word.lower()]))


def key_terms(text: str, topic: str, idf: _Idf, context: str = "", limit: int = 4) -> list[str]:
    """The words that make a reference answer specific: code names, acronyms, then words the
    topic's own text repeats that other topics rarely use (tf in the topic x idf)."""
    terms: list[str] = []
    for t in _CODE.findall(text) + _ACRONYM.findall(text):
        if t.lower() not in _STOP | _CODE_WORDS and not mentions(t, topic) and t not in terms:
            terms.append(t)
    own = {w.lower().rstrip("s") for w in _WORD.findall(topic)}
    words = [
        w
        for w in _WORD.findall(text)
        if w.lower() not in _STOP and w.lower().rstrip("s") not in own
    ]
    tf = Counter(w.lower() for w in _WORD.findall(context or text))
    # A word the topic says once is incidental; one it repeats is what the topic is about.
    words = [w for w in words if tf[w.lower()] >= 2]
    ranked = sorted(
        dict.fromkeys(words), key=lambda w: (-tf[w.lower()] * idf.weight(w), words.index(w))
    )
    for w in ranked:
        if len(terms) >= limit:
            break
        if w.lower() not in {t.lower() for t in terms}:
            terms.append(w)
    return terms[:limit]


def _cloze_term(sentence: str, topic: str) -> str | None:
    """The key term to blank: a code name, an acronym, else None (never a vague word)."""
    for term in _CODE.findall(sentence) + _ACRONYM.findall(sentence):
        if term.lower() in _STOP | _CODE_WORDS:
            continue
        if term.lower() in topic.lower():
            continue  # "ROC" for the topic "ROC-AUC": the heading would give it away
        if sentence.count(term) == 1 and not mentions(term, topic) and len(term) >= 2:
            return term
    return None


def _synonyms(sentence: str, term: str) -> list[str]:
    """ "ordinary least squares (OLS)" gives OLS <-> ordinary least squares."""
    out = [term]
    m = _pattern(r"([A-Za-z][A-Za-z -]{{3,60}}?)\s*\({}\)", term).search(sentence)
    if m:
        words = m.group(1).split()
        out.append(" ".join(words[-len(term.rstrip("s")) :]))
    m = _pattern(r"{}\s*\(([^)]{{3,60}})\)", term).search(sentence)
    if m:
        out.append(m.group(1))
    return out


def _mcq(topic: Topic, siblings: list[Topic]) -> Question | None:
    core = topic.fields["core"]
    if len(siblings) < 4:
        return None
    # The first core sentence that still reads as a sentence once the name is hidden.
    candidates = [(s, _mask(s, topic.name)) for s in sentences(core.text)[:3]]
    readable = [(s, m) for s, m in candidates if m.count("this") + m.count("…") <= 2]
    if not readable:
        return None
    first, masked = readable[0]
    # Never ambiguous: no distractor may be named by the passage the question cites.
    pool = [s for s in siblings if not mentions(core.text, s.name) and s.name != topic.name]
    pool.sort(key=lambda s: _hash(topic.key, s.key))
    if len(pool) < 3:
        return None
    options = [topic.name, *(s.name for s in pool[:3])]
    options.sort(key=lambda o: _hash(topic.key, "order", o))
    return Question(
        id=_hash(topic.key, "mcq", first)[:16],
        type="mcq",
        prompt=f"Which topic does this describe? “{masked}”",
        expected=topic.name,
        accepted=[topic.name, *name_variants(topic.name)[1:]],
        key_terms=[],
        explanation=first,
        chunk_id=core.chunk_id,
        source=topic.source,
        phase=topic.phase,
        topic=topic.name,
        options=options,
    )


def _cloze(topic: Topic) -> Question | None:
    core = topic.fields["core"]
    for sentence in sentences(core.text)[:4]:
        term = _cloze_term(sentence, topic.name)
        if term:
            return Question(
                id=_hash(topic.key, "cloze", sentence)[:16],
                type="cloze",
                prompt=f"Fill in the blank ({topic.name}): {sentence.replace(term, BLANK, 1)}",
                expected=term,
                accepted=_synonyms(sentence, term),
                key_terms=[],
                explanation=sentence,
                chunk_id=core.chunk_id,
                source=topic.source,
                phase=topic.phase,
                topic=topic.name,
            )
    return None


def _short(topic: Topic, label: str, prompt: str, idf: _Idf) -> Question | None:
    f = topic.fields.get(label)
    if f is None:
        return None
    ref = " ".join(sentences(f.text)[:2])
    if not ref:
        return None
    return Question(
        id=_hash(topic.key, "short", label, ref)[:16],
        type="short",
        prompt=prompt,
        expected=ref,
        accepted=[],
        key_terms=key_terms(ref, topic.name, idf, " ".join(x.text for x in topic.fields.values())),
        explanation=ref,
        chunk_id=f.chunk_id,
        source=topic.source,
        phase=topic.phase,
        topic=topic.name,
    )


def build_bank(topics: list[Topic]) -> list[Question]:
    """Every question the topics support, in topic order (mcq, cloze, short)."""
    idf = _Idf(n=len(topics))
    for t in topics:
        idf.df.update({w.lower() for f in t.fields.values() for w in _WORD.findall(f.text)})
    by_source: dict[str, list[Topic]] = {}
    for t in topics:
        by_source.setdefault(t.source, []).append(t)
    bank: list[Question] = []
    for t in topics:
        made = [
            _mcq(t, by_source[t.source]),
            _cloze(t),
            _short(t, "core", f"In a sentence or two: what is {t.name}?", idf),
            _short(t, "pitfall", f"What is a common pitfall with {t.name}?", idf),
        ]
        bank += [q for q in made if q is not None]
    return bank
