"""ExtractiveGenerator: the offline answerer picks cited sentences from the passages."""

from __future__ import annotations

import hashlib
import re

import pytest

from assistant.generation.extractive import ExtractiveGenerator, split_sentences
from assistant.protocols import GenerationRequest
from assistant.types import Chunk, Generation

RIDGE = (
    "**Core idea.** Ridge regression is linear regression with an L2 penalty on the "
    "coefficients. The penalty shrinks all weights toward zero but never exactly to zero.\n\n"
    "```python\nfrom sklearn.linear_model import Ridge\nRidge(alpha=1.0).fit(X, y)\n```\n\n"
    "Ridge is a good default when many features are correlated, because it spreads weight "
    "across them. See [the scikit-learn guide to linear models](https://scikit-learn.org/stable/modules/linear_model.html)."
)
DOCKER = (
    "A Docker image is built in layers, one per instruction of the Dockerfile. Layers are "
    "cached, so put the instructions that change least often first.\n\n"
    "Official docs: https://docs.docker.com/build/\n\n"
    "| command | meaning |\n|---|---|\n| FROM | base image |\n"
)


def chunk(n: int, text: str) -> Chunk:
    # Like real chunk ids, the id changes with the text (the generator caches by id).
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    return Chunk(digest, f"notes/{n}.md", "T", f"T > S{n}", text, None, (5,), digest)


def request(question: str, *texts: str) -> GenerationRequest:
    passages = [chunk(n, t) for n, t in enumerate(texts, start=1)]
    return GenerationRequest(question=question, passages=passages, messages=[])


@pytest.fixture(scope="module")
def gen(embedder) -> ExtractiveGenerator:  # type: ignore[no-untyped-def]
    return ExtractiveGenerator(embedder)


def test_split_sentences_keeps_prose_only() -> None:
    sents = split_sentences(RIDGE + "\n\n" + DOCKER)
    assert "Ridge regression is linear regression with an L2 penalty on the coefficients." in sents
    assert "Core idea." not in sents  # a fragment under 25 characters
    assert "The penalty shrinks all weights toward zero but never exactly to zero." in sents
    # Links keep their text, code blocks, doc-link lines and table rows are gone.
    assert "See the scikit-learn guide to linear models." in sents
    joined = " ".join(sents)
    assert "sklearn" not in joined and "http" not in joined and "FROM" not in joined
    assert all(len(s) >= 25 for s in sents)
    assert split_sentences("```\nonly code\n```") == []


def test_answer_is_cited_sentences_of_the_passages(gen: ExtractiveGenerator) -> None:
    req = request("Why does Docker cache image layers?", RIDGE, DOCKER)
    out = gen.generate(req)
    assert (
        out.model == "extractive:sentence-transformers/all-MiniLM-L6-v2"
        and out.usage.prompt_tokens == 0
    )
    pieces = re.findall(r"(.+?) \[(\d+)\](?: |$)", out.text)
    assert pieces and "".join(f"{s} [{n}] " for s, n in pieces).strip() == out.text
    for sentence, n in pieces:
        assert sentence in split_sentences(req.passages[int(n) - 1].text)
    assert {n for _, n in pieces} == {"2"}  # the Docker passage, not the Ridge one
    assert len(pieces) <= gen.max_sentences
    assert gen.generate(req).text == out.text  # deterministic


def test_sentences_follow_passage_order(gen: ExtractiveGenerator) -> None:
    out = gen.generate(request("What does the ridge penalty do to the weights?", RIDGE))
    sents = split_sentences(RIDGE)
    positions = [sents.index(s) for s in re.findall(r"(.+?) \[1\](?: |$)", out.text)]
    assert positions == sorted(positions) and positions


def test_word_budget(embedder) -> None:  # type: ignore[no-untyped-def]
    small = ExtractiveGenerator(embedder, max_sentences=2, max_words=20)
    out = small.generate(request("ridge regression penalty weights", RIDGE, RIDGE))
    assert 1 <= len(re.findall(r"\[\d\]", out.text)) <= 2
    assert len(re.sub(r"\[\d\]", "", out.text).split()) <= 20 or out.text.count("[") == 1


def test_no_passages_and_no_prose(gen: ExtractiveGenerator) -> None:
    empty = gen.generate(request("anything?"))
    assert empty.text == "The study material does not cover this question."
    code_only = gen.generate(request("what is this?", "```python\nprint('x')\n```"))
    assert code_only.text.endswith("[1]") and "print('x')" in code_only.text


def test_stream_matches_generate(gen: ExtractiveGenerator) -> None:
    req = request("Why does Docker cache image layers?", RIDGE, DOCKER)
    items = list(gen.stream(req))
    final = items[-1]
    assert isinstance(final, Generation)
    deltas = items[:-1]
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == final.text == gen.generate(req).text  # type: ignore[arg-type]


def test_max_tokens_keeps_whole_cited_sentences_then_says_length(
    gen: ExtractiveGenerator,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    question = "What is ridge regression and when is it a good default?"
    full = gen.generate(request(question, RIDGE))
    assert full.finish_reason == "stop" and full.text.count("[1]") >= 2
    first = full.text.split(" [1] ")[0] + " [1]"
    budget = embedder.count_tokens(first) + 2  # the first sentence fits, the second does not
    cut = gen.generate(GenerationRequest(question, request(question, RIDGE).passages, [], budget))
    assert (cut.text, cut.finish_reason) == (first, "length")
    assert embedder.count_tokens(cut.text) <= budget
    # Below one sentence: its first words, still cited.
    tiny = gen.generate(GenerationRequest(question, request(question, RIDGE).passages, [], 6))
    assert tiny.finish_reason == "length" and tiny.text.endswith(" [1]")
    assert embedder.count_tokens(tiny.text) <= 6 and first.startswith(tiny.text[:-4])
    # The temperature changes nothing: the answer is picked, not sampled.
    hot = GenerationRequest(question, request(question, RIDGE).passages, [], temperature=2.0)
    assert gen.generate(hot).text == full.text
