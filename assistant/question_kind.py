"""What a question asks for, read from its wording: a definition, a comparison, a plan.

The extractive answerer uses it to prefer a passage's central sentences for "what is X",
to cover both sides of "X vs Y", and to prefer a study plan's field lines ("Time: …")
for "how long / what next" questions. Plain English cues only: no corpus vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "what",
        "how",
        "why",
        "when",
        "which",
        "who",
        "do",
        "does",
        "i",
        "my",
        "me",
        "you",
        "it",
        "this",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "can",
        "should",
        "would",
        "about",
    ]
)
# Words that frame a question without naming its topic.
_FRAME = frozenset(
    [
        "explain",
        "define",
        "describe",
        "tell",
        "mean",
        "means",
        "meaning",
        "work",
        "works",
        "working",
        "difference",
        "differences",
        "between",
        "differ",
        "compare",
        "compared",
        "comparison",
        "vs",
        "versus",
        "use",
        "using",
        "used",
        "good",
        "better",
        "main",
        "basic",
        "basics",
        "overview",
        "intro",
        "introduction",
        "concept",
        "idea",
        "simple",
        "terms",
        "please",
        "briefly",
        "understand",
        "thing",
        "things",
        "give",
        "example",
        "exactly",
        "really",
    ]
)
_DEFINE = re.compile(
    r"^\s*(what\s+(is|are|'s|was)\b|what\s+does\s.+\s(mean|do|stand\s+for)\b|"
    r"define\b|definition\s+of|explain\b|describe\b|tell\s+me\s+about|"
    r"how\s+(does|do)\s.+\swork|what\s+do\s+you\s+mean|meaning\s+of|overview\s+of)",
    re.IGNORECASE,
)
_COMPARE = re.compile(
    r"\b(vs\.?|versus|difference|differences|differ|compare[sd]?|comparison)\b", re.IGNORECASE
)
_PARTS = re.compile(r"\bvs\.?|\bversus\b|\band\b|\bor\b|,|/", re.IGNORECASE)
_PLAN = re.compile(
    r"\b(how\s+long|how\s+much\s+time|months?|weeks?|goal|rule|roadmap|phase|next|after|"
    r"before|start|begin|order|focus|outcome|(should|must|do|can)\s+i\s+(learn|study)|"
    r"what\s+to\s+(learn|study))\b",
    re.IGNORECASE,
)
_PITFALL = re.compile(
    r"\b(pitfall|mistake|wrong|error|avoid|gotcha|problem|fails?|slow|broken|why\s+does\s+my|"
    r"why\s+is\s+my|keeps?|still)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"\b(when\s+(should|would|to|do)|use\s+case|should\s+i\s+use|why\s+use|which\s+one)\b",
    re.IGNORECASE,
)


def norm(word: str) -> str:
    """A crude stem so "maps" matches "map" and "trees" matches "tree"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str) -> set[str]:
    return {norm(w) for w in WORD.findall(text.lower()) if w not in STOP and w not in _FRAME}


@dataclass(slots=True, frozen=True)
class QuestionKind:
    words: set[str]  # content words of the question (stemmed)
    terms: list[set[str]]  # the topic(s): one for "what is X", two for "X vs Y"
    definitional: bool
    comparison: bool
    plan: bool  # about a study plan: time, goal, order, rules
    label_cues: frozenset[str]  # paragraph labels the question asks for ("pitfall", "when")

    @property
    def central(self) -> bool:
        """Wants the central sentences of a topic (a definition or a comparison)."""
        return self.definitional or self.comparison


def read_question(question: str) -> QuestionKind:
    q = question.strip()
    comparison = bool(_COMPARE.search(q))
    topic = _DEFINE.sub("", q) if _DEFINE.match(q) else q
    terms: list[set[str]] = []
    if comparison:
        topic = re.sub(r"(?i)\b(difference|differences)\s+between\b", " ", topic)
        terms = [t for t in (content_words(p) for p in _PARTS.split(topic)) if t]
    words = content_words(q)
    if not terms:
        terms = [content_words(topic)] if content_words(topic) else []
    short = len(WORD.findall(q.lower())) <= 3 and not q.lower().startswith(("why", "when", "how"))
    cues: set[str] = set()
    if _PITFALL.search(q):
        cues |= {"pitfall", "mistake", "caveat", "warning", "gotcha"}
    if _WHEN.search(q):
        cues |= {"when", "use"}
    return QuestionKind(
        words=words,
        terms=terms,
        definitional=bool(_DEFINE.match(q)) or short,
        comparison=comparison and len(terms) >= 2,
        plan=bool(_PLAN.search(q)),
        label_cues=frozenset(cues),
    )
