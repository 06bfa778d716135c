"""Refuses semantic-cache hits between questions that look alike but ask different things.

Sentence embeddings barely see the words that flip a question's meaning: with
all-MiniLM-L6-v2 "why is X slow" / "why is X not slow" score 0.98 and "which is
faster" / "which is slower" 0.97. A cached answer served to the wrong one of such a
pair is wrong, while a refused hit only costs one generation, so the guard errs on
the side of refusing. Two questions may share an answer only when they agree on:

- numbers: every token with a digit and every number word, in order (L1 vs L2, top 5 vs 10);
- negation: how many negations they hold (not, no, never, n't, without, except, ...);
- cue words: which comparative / antonym / direction / question words they use
  (faster vs slower, before vs after, min vs max, increase vs decrease, how vs why);
- direction: the word after "than", "from", "into", "vs" (is A better than B vs B than A);
- name variants: no word of one is another's word plus a short non-inflection
  suffix (adam vs adamw), since model and library names differ by one letter.
"""

from __future__ import annotations

import re

from assistant.cache import normalize_question

_NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "thousand",
        "million",
        "billion",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "single",
        "double",
        "triple",
        "half",
        "quarter",
    ]
)

_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "without",
        "except",
        "excluding",
        "none",
        "nothing",
        "nor",
        "neither",
        "unless",
        "nobody",
        "nowhere",
        "cannot",
        "lack",
        "lacking",
    ]
)

# Each line is one concept; its words are inflections or synonyms of each other.
# Questions must use the same set of concepts (a one-sided cue refuses the hit).
_CUE_GROUPS = """
fast faster fastest quick quicker quickly
slow slower slowest slowly
high higher highest
low lower lowest
more
less fewer
most
least
increase increases increasing increased grow
decrease decreases decreasing decreased reduce reduces reducing reduced shrink
min minimum minimal minimize minimise minimizing minimising
max maximum maximal maximize maximise maximizing maximising
before earlier prior
after later
above
below
large larger largest big bigger biggest
small smaller smallest tiny
better best
worse worst
overfit overfits overfitting overfitted
underfit underfits underfitting underfitted
first
last
start starts starting begin
stop stops stopping
add adds adding insert append
remove removes removing delete deletes drop drops dropping
enable enables enabling
disable disables disabling
ascending
descending
positive
negative
true
false
input inputs
output outputs
read reads reading load loads loading
write writes writing save saves saving
encoder encode encoding
decoder decode decoding
supervised
unsupervised
left
right
forward
backward backwards
import imports importing
export exports exporting
row rows
column columns
precision
recall
sync synchronous
async asynchronous
static
dynamic
cpu
gpu
tpu
windows
linux
mac macos
why
how
when
where
who
"""

_DIRECTIONAL = frozenset({"than", "from", "into", "vs", "versus"})
_INFLECTIONS = frozenset({"s", "es", "d", "ed", "r", "er", "ly", "ing"})

_CONTRACTIONS = (
    (re.compile(r"\bcan't\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\b(what|that|it|there|who|where|how|here)'s\b"), r"\1 is"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'(s|ll|ve|d|m)\b"), ""),
)
_TOKEN = re.compile(r"[^\W_]+")  # letters and digits; hyphens, dots and underscores split


def _build_cue_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for line in _CUE_GROUPS.strip().splitlines():
        words = line.split()
        for word in words:
            index[word] = words[0]
    return index


_CUE_OF = _build_cue_index()


def tokens(question: str) -> list[str]:
    """Lower-case word tokens with contractions spelled out ("isn't" -> "is", "not")."""
    text = normalize_question(question)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return _TOKEN.findall(text)


def _numbers(words: list[str]) -> list[str]:
    return [w for w in words if w in _NUMBER_WORDS or any(c.isdigit() for c in w)]


def _directions(words: list[str]) -> list[tuple[str, str]]:
    return [
        (w, words[i + 1] if i + 1 < len(words) else "")
        for i, w in enumerate(words)
        if w in _DIRECTIONAL
    ]


def _is_variant(a: str, b: str) -> bool:
    """True when one word is the other plus a short suffix that is not an inflection."""
    short, long = sorted((a, b), key=len)
    rest = long[len(short) :]
    return long.startswith(short) and 0 < len(rest) <= 2 and rest not in _INFLECTIONS


def refusal_reason(question_a: str, question_b: str) -> str | None:
    """Why the two questions must not share an answer, or None when they may."""
    a, b = tokens(question_a), tokens(question_b)
    if a == b:
        return None
    if _numbers(a) != _numbers(b):
        return "numbers differ"
    if sum(w in _NEGATIONS for w in a) != sum(w in _NEGATIONS for w in b):
        return "negation differs"
    cues_a = {_CUE_OF[w] for w in a if w in _CUE_OF}
    cues_b = {_CUE_OF[w] for w in b if w in _CUE_OF}
    if cues_a != cues_b:
        return f"cue words differ: {sorted(cues_a ^ cues_b)}"
    if _directions(a) != _directions(b):
        return "direction differs"
    only_a, only_b = set(a) - set(b), set(b) - set(a)
    for x in only_a:
        for y in only_b:
            if _is_variant(x, y):
                return f"name variants differ: {x!r} vs {y!r}"
    return None
