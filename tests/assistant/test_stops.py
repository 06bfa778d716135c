"""Stop rules of the local backend: loops, prompt echo, the deadline, and trimming."""

from __future__ import annotations

import time

from assistant.generation.stops import (
    RunawayGuard,
    echo_start,
    repeated_ngram_start,
    trim_runaway,
)


def test_a_repeated_ngram_is_a_loop() -> None:
    loop = [1, 2, 3, 4, 5, 6, 7, 8]
    ids = [9, 9, *loop, *loop, *loop]
    assert repeated_ngram_start(ids) == 2 + len(loop)
    assert repeated_ngram_start([*range(40)]) is None
    assert repeated_ngram_start([*loop, *loop]) is None  # twice is not yet a loop
    assert repeated_ngram_start([7] * 10) is None  # overlapping runs count once per n


def test_prompt_markup_in_the_answer_is_an_echo() -> None:
    assert echo_start("Ridge adds an L2 penalty [1].") is None
    text = "Ridge adds an L2 penalty [1]. Question: What is Lasso?"
    assert echo_start(text) == text.index("Question:")
    assert echo_start("<passages>\n<passage id=") == 0


def test_guard_names_the_rule_that_fired() -> None:
    guard = RunawayGuard(deadline=None, check_every=1)
    assert not guard([1, 2, 3], "An answer")
    assert guard([1, 2, 3], "An answer <passages>") and guard.reason == "echo"
    loop = [1, 2, 3, 4, 5, 6, 7, 8]
    guard = RunawayGuard(deadline=None, check_every=1)
    assert guard(loop * 3, "text") and guard.reason == "repetition"
    late = RunawayGuard(deadline=time.monotonic() - 1)
    assert late([1], "x") and late.reason == "time_budget"


def test_trim_keeps_whole_sentences_before_the_runaway() -> None:
    text = "Ridge adds an L2 penalty [1]. It shrinks weights [1]. Question: what"
    assert trim_runaway(text, [], None) == "Ridge adds an L2 penalty [1]. It shrinks weights [1]."
    # A loop found in the ids is cut where its second occurrence began.
    loop = [1, 2, 3, 4, 5, 6, 7, 8]
    ids = [*loop, *loop, *loop]
    pieces = {tuple(loop): "Ridge adds an L2 penalty [1]. "}

    def decode(part: list[int]) -> str:
        return "".join(pieces[tuple(part[i : i + 8])] for i in range(0, len(part), 8))

    assert trim_runaway(decode(ids), ids, decode) == "Ridge adds an L2 penalty [1]."
    assert trim_runaway("A clean answer [1].", [1, 2], decode) == "A clean answer [1]."
