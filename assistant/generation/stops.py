"""Stop rules for a small local model: end of turn, runaway repetition, prompt echo, a deadline.

A 270M model that has not learnt to stop will loop ("... [1]. ... [1]. ... [1].") or start
writing the prompt again ("<passages>", "Question:"). ``RunawayGuard`` watches the token
ids as they are generated and names the first rule that fires; the generator then keeps
only the text before the loop or echo began.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

# Text that only appears in the prompt: an answer that writes it is echoing the prompt.
ECHO_MARKERS = ("<passages>", "<passage ", "</passage", "Question:", "<start_of_turn>", "<|user|>")
NGRAM = 8  # a run of this many tokens ...
NGRAM_REPEATS = 3  # ... seen this many times in one answer is a loop


def repeated_ngram_start(
    ids: Sequence[int], n: int = NGRAM, repeats: int = NGRAM_REPEATS
) -> int | None:
    """Index where the first ``n``-gram seen ``repeats`` times began its second occurrence."""
    seen: dict[tuple[int, ...], list[int]] = {}
    for i in range(len(ids) - n + 1):
        gram = tuple(ids[i : i + n])
        starts = seen.setdefault(gram, [])
        if starts and i - starts[-1] < n:
            continue  # overlapping with its previous occurrence ("a a a a") counts once per n
        starts.append(i)
        if len(starts) >= repeats:
            return starts[1]
    return None


def echo_start(text: str) -> int | None:
    """Where the answer text starts repeating the prompt's own markup, if it does."""
    hits = [i for m in ECHO_MARKERS if (i := text.find(m)) >= 0]
    return min(hits) if hits else None


class RunawayGuard:
    """Decides, token by token, whether a generation must stop and why."""

    def __init__(self, deadline: float | None = None, check_every: int = 4) -> None:
        self.deadline = deadline  # time.monotonic() value; None = no time limit
        self.check_every = check_every  # n-gram scans are O(n): not on every token
        self.reason: str | None = None

    def __call__(self, new_ids: Sequence[int], text: str) -> bool:
        """True when generation must stop now; ``reason`` says which rule fired."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.reason = "time_budget"
        elif echo_start(text) is not None:
            self.reason = "echo"
        elif len(new_ids) % self.check_every == 0 and repeated_ngram_start(new_ids) is not None:
            self.reason = "repetition"
        return self.reason is not None


def trim_runaway(text: str, ids: Sequence[int], decode: object) -> str:
    """The answer without the echoed prompt or the repeated loop (cut at a sentence end)."""
    cut = len(text)
    echo = echo_start(text)
    if echo is not None:
        cut = min(cut, echo)
    loop = repeated_ngram_start(ids)
    if loop is not None and callable(decode):
        cut = min(cut, len(str(decode(list(ids[:loop])))))
    kept = text[:cut].rstrip()
    if cut < len(text):
        end = max(kept.rfind(". "), kept.rfind(".\n"), kept.rfind("]."))
        if kept.endswith(".") or end < 0:
            return kept
        return kept[: end + (2 if kept[end : end + 2] == "]." else 1)].rstrip()
    return kept
