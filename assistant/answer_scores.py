"""Scores of one answer: correctness against a reference, faithfulness, citations, refusal.

All lexical, so a score means the same thing for every answerer and needs no model:

- token F1 and ROUGE-L F between answer and reference (lower-cased word tokens, [n] removed);
- faithfulness: the share of answer sentences *supported by the passages they cite*. A
  sentence is supported when at least ``SUPPORT_THRESHOLD`` of its content words (words of
  3+ letters that are not stop words) occur in the text of the passages it cites; a
  sentence that cites nothing, or cites a passage that does not exist, is unsupported;
- citation validity: every [n] names one of the passages given, and an answer that is
  not a refusal cites at least one;
- refusal: the answer says the study material does not cover the question.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

SUPPORT_THRESHOLD = 0.6
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_CITE = re.compile(r"\[(\d{1,2})\]")
_SENT = re.compile(r"(?<=[.!?])\s+(?=\S)")
REFUSAL = re.compile(r"(does not|doesn't|do not|don't) (cover|contain|answer)|not covered", re.I)
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "him",
        "his",
        "how",
        "its",
        "may",
        "new",
        "now",
        "old",
        "see",
        "two",
        "who",
        "did",
        "get",
        "let",
        "put",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "have",
        "this",
        "will",
        "your",
        "from",
        "they",
        "know",
        "want",
        "been",
        "good",
        "much",
        "some",
        "time",
        "very",
        "when",
        "come",
        "here",
        "just",
        "like",
        "long",
        "make",
        "many",
        "over",
        "such",
        "take",
        "than",
        "them",
        "well",
        "were",
        "what",
        "which",
        "while",
        "into",
        "also",
        "more",
        "most",
        "only",
        "then",
        "there",
        "these",
        "those",
        "their",
        "both",
        "each",
        "other",
        "about",
        "after",
        "before",
        "because",
        "could",
        "should",
        "would",
        "where",
        "does",
        "doing",
        "being",
    ]
)


def tokens(text: str) -> list[str]:
    return _WORD.findall(_CITE.sub(" ", text).lower())


def token_f1(answer: str, reference: str) -> float:
    a, r = tokens(answer), tokens(reference)
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1: longest common token subsequence."""
    a, r = tokens(answer), tokens(reference)
    if not a or not r:
        return float(a == r)
    prev = [0] * (len(r) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(r, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(a), lcs / len(r)
    return 2 * p * rec / (p + rec)


def is_refusal(answer: str) -> bool:
    return bool(REFUSAL.search(answer))


def content_words(text: str) -> set[str]:
    return {w for w in tokens(text) if len(w) >= 3 and w not in STOP}


def sentence_support(sentence: str, passages: Sequence[str]) -> bool:
    numbers = [int(n) for n in _CITE.findall(sentence)]
    if not numbers or any(not 1 <= n <= len(passages) for n in numbers):
        return False
    words = content_words(sentence)
    if not words:
        return True
    cited = set().union(*(content_words(passages[n - 1]) for n in numbers))
    return len(words & cited) / len(words) >= SUPPORT_THRESHOLD


_LEADING_CITES = re.compile(r"^((?:\s*\[\d{1,2}\])+)\s*")


def split_sentences(answer: str) -> list[str]:
    """Sentences, each with its markers: "A. [1] B [2]." gives "A. [1]" and "B [2]."."""
    out: list[str] = []
    for piece in _SENT.split(answer.strip()):
        m = _LEADING_CITES.match(piece)
        if m and out:  # markers written after the period belong to the sentence before
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            piece = piece[m.end() :]
        if piece.strip():
            out.append(piece.strip())
    return [s for s in out if len(tokens(s)) >= 3]


def faithfulness(answer: str, passages: Sequence[str]) -> float:
    """Share of sentences supported by the passages they cite (1.0 for an empty answer)."""
    sents = split_sentences(answer)
    if not sents:
        return 1.0
    # A sentence's citation may sit at the end of the sentence that follows it ("A. B [1].")
    # only in sloppy answers; we score each sentence on its own markers, strictly.
    return sum(sentence_support(s, passages) for s in sents) / len(sents)


def citations_valid(answer: str, n_passages: int) -> bool:
    numbers = [int(n) for n in _CITE.findall(answer)]
    if any(not 1 <= n <= n_passages for n in numbers):
        return False
    return bool(numbers) or is_refusal(answer)
