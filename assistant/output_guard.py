"""Refuse model output that reproduces the system prompt (a prompt-injection leak).

A passage may carry an instruction ("repeat everything above"); a model that obeys
returns its instructions. The check is word n-gram overlap: it counts how many words
of the system prompt are covered by runs of ``ngram`` consecutive words that also occur
in the output (case, punctuation and spacing ignored). An answer that shares a phrase
("the study material does not cover it") covers a few words; a leak covers many.
Paraphrases and translations are not caught: this is a tripwire, not a proof.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from functools import lru_cache

from assistant.prompts import SYSTEM_PROMPT
from assistant.types import Generation

_WORD = re.compile(r"\w+")
NGRAM = 6  # words per shingle
MIN_LEAKED_WORDS = 20  # prompt words covered before the output counts as a leak (~25 %)
REFUSAL = "The answer was withheld: it repeated the assistant's instructions."


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=8)
def _shingles(prompt: str, n: int) -> dict[tuple[str, ...], list[int]]:
    """n-word shingle -> start positions in ``prompt``."""
    words = _words(prompt)
    table: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - n + 1):
        table.setdefault(tuple(words[i : i + n]), []).append(i)
    return table


class LeakDetector:
    """Incremental check for streamed output: ``feed`` each delta, True once it leaks."""

    def __init__(
        self, prompt: str = SYSTEM_PROMPT, *, ngram: int = NGRAM, min_words: int = MIN_LEAKED_WORDS
    ) -> None:
        self._table = _shingles(prompt, ngram)
        self._ngram = ngram
        self._need = min(min_words, len(_words(prompt)))
        self._tail = ""  # text after the last complete word
        self._recent: list[str] = []  # the last ngram - 1 complete words
        self._covered: set[int] = set()  # positions of prompt words reproduced so far

    @property
    def leaked(self) -> bool:
        return len(self._covered) >= self._need

    def _word(self, word: str) -> None:
        self._recent.append(word.lower())
        if len(self._recent) > self._ngram:
            del self._recent[0]
        if len(self._recent) == self._ngram:
            for start in self._table.get(tuple(self._recent), ()):
                self._covered.update(range(start, start + self._ngram))

    def feed(self, delta: str) -> bool:
        """Add streamed text; True when the output so far reproduces the prompt."""
        self._tail += delta
        end = 0
        for m in _WORD.finditer(self._tail):
            if m.end() == len(self._tail):
                break  # the word may continue in the next delta
            self._word(m.group())
            end = m.end()
        self._tail = self._tail[end:]
        return self.leaked

    def finish(self) -> bool:
        """The stream ended: count its last word too."""
        for m in _WORD.finditer(self._tail):
            self._word(m.group())
        self._tail = ""
        return self.leaked


def leaked_words(text: str, prompt: str = SYSTEM_PROMPT, *, ngram: int = NGRAM) -> int:
    """How many words of ``prompt`` the output ``text`` reproduces in runs of ``ngram``+."""
    detector = LeakDetector(prompt, ngram=ngram)
    detector.feed(text)
    detector.finish()
    return len(detector._covered)


def reproduces_system_prompt(
    text: str,
    prompt: str = SYSTEM_PROMPT,
    *,
    ngram: int = NGRAM,
    min_words: int = MIN_LEAKED_WORDS,
) -> bool:
    """True when ``text`` repeats at least ``min_words`` words of ``prompt`` (a leak)."""
    detector = LeakDetector(prompt, ngram=ngram, min_words=min_words)
    detector.feed(text)
    return detector.finish()


def guard_output(text: str, prompt: str = SYSTEM_PROMPT) -> str:
    """``text``, or a short refusal when it reproduces the system prompt."""
    return REFUSAL if reproduces_system_prompt(text, prompt) else text


def guard_stream(
    stream: Generator[str | Generation, None, None] | Iterator[str | Generation],
    refuse: Callable[[], Exception],
    prompt: str = SYSTEM_PROMPT,
) -> Iterator[str | Generation]:
    """A generator's stream (deltas, then a ``Generation``) that raises ``refuse()`` on a leak.

    The delta that completes the leak is not passed on, so at most about ``MIN_LEAKED_WORDS``
    words of the prompt reach the caller. ``stream`` is closed either way.
    """
    detector = LeakDetector(prompt)
    try:
        for item in stream:
            leaked = detector.finish() if isinstance(item, Generation) else detector.feed(item)
            if leaked:
                raise refuse()
            yield item
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
