"""The local transformers backend on a tiny random model built (and loaded by path) here."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from assistant.errors import BadInputError, ConfigError, UpstreamModelError
from assistant.generation.local import (
    FALLBACK_CHAT_TEMPLATE,
    LocalGenerator,
    encode_text,
    render_chat,
)
from assistant.prompts import build_messages
from assistant.protocols import GenerationRequest, Generator
from assistant.types import Generation
from finetune.data import make_chunk
from tests.conftest import CORPUS
from tests.support.tiny import build_random_causal_lm

PASSAGE = make_chunk(
    "Ridge regression adds an L2 penalty on the coefficients.",
    source="notes/phase-5-core-ml.md",
    title="Phase 5: Core Machine Learning Algorithms",
    section="Ridge",
)


def _request(question: str = "What is Ridge?", **kw: object) -> GenerationRequest:
    kw = {"max_tokens": 8, "temperature": 0.0, **kw}
    return GenerationRequest(question, [PASSAGE], build_messages(question, [PASSAGE]), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (CORPUS / "roadmap.md").read_text(encoding="utf-8")
    return build_random_causal_lm(tmp_path_factory.mktemp("tiny-lm"), [text])


@pytest.fixture(scope="module")
def generator(model_dir: Path) -> LocalGenerator:
    return LocalGenerator(str(model_dir), device="cpu", max_new_tokens=64)


def test_generate_counts_tokens_exactly(generator: LocalGenerator) -> None:
    g: Generator = generator  # satisfies the protocol
    request = _request()
    out = g.generate(request)
    prompt = render_chat(generator.tokenizer, request.messages, add_generation_prompt=True)
    assert out.usage.exact
    assert out.usage.prompt_tokens == len(encode_text(generator.tokenizer, prompt))
    assert 0 < out.usage.completion_tokens <= 8
    assert out.finish_reason in {"stop", "length"}
    assert out.model == str(generator.model) and g.backend == "local"
    assert generator.generate(request).text == out.text  # temperature 0 is greedy


def test_stream_yields_deltas_then_one_generation(generator: LocalGenerator) -> None:
    request = _request(max_tokens=12)
    parts = list(generator.stream(request))
    *deltas, final = parts
    assert isinstance(final, Generation)
    assert all(isinstance(d, str) for d in deltas)
    assert final.text == "".join(str(d) for d in deltas).strip()
    whole = generator.generate(request)
    assert (final.text, final.usage) == (whole.text, whole.usage)


def test_sampling_and_the_token_limit(generator: LocalGenerator) -> None:
    out = generator.generate(_request(temperature=1.0, max_tokens=5))
    assert out.usage.completion_tokens <= 5
    capped = LocalGenerator(str(generator.model), device="cpu", max_new_tokens=3)
    assert capped.generate(_request(max_tokens=50)).usage.completion_tokens <= 3


def test_concurrent_requests_do_not_interleave(generator: LocalGenerator) -> None:
    questions = ["What is Ridge?", "What is Lasso?", "Why scale features?"]
    expected = {q: generator.generate(_request(q)).text for q in questions}
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def ask(q: str, streaming: bool) -> None:
        try:
            if streaming:
                final = list(generator.stream(_request(q)))[-1]
                assert isinstance(final, Generation)
                results[f"s:{q}"] = final.text
            else:
                results[f"g:{q}"] = generator.generate(_request(q)).text
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q, s)) for q in questions for s in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for q in questions:
        assert results[f"g:{q}"] == results[f"s:{q}"] == expected[q]


def test_a_second_request_waits_for_the_running_one(generator: LocalGenerator) -> None:
    stream = generator.stream(_request(max_tokens=16))
    assert isinstance(next(stream), str)  # generation is under way and holds the model
    done = threading.Event()
    threading.Thread(
        target=lambda: (generator.generate(_request(max_tokens=2)), done.set()), daemon=True
    ).start()
    assert not done.wait(timeout=0.5)
    rest = list(stream)
    assert isinstance(rest[-1], Generation)
    assert done.wait(timeout=30)


def test_an_abandoned_stream_frees_the_model(generator: LocalGenerator) -> None:
    stream = generator.stream(_request(max_tokens=64))
    first = next(stream)
    assert isinstance(first, str)
    stream.close()  # the client went away mid-answer
    done = threading.Event()

    def again() -> None:
        generator.generate(_request(max_tokens=2))
        done.set()

    threading.Thread(target=again, daemon=True).start()
    assert done.wait(timeout=30), "the lock was not released"


def test_fallback_template_for_tokenizers_without_one(model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.chat_template = None
    messages = build_messages("What is Ridge?", [PASSAGE])
    text = render_chat(tok, messages, add_generation_prompt=True)
    assert text.startswith("<|system|>\n" + messages[0]["content"] + "<|im_end|>\n")
    assert "<|user|>\n<passages>" in text and text.endswith("<|assistant|>\n")
    assert "<|assistant|>" not in render_chat(tok, messages, add_generation_prompt=False)
    assert "eos_token" in FALLBACK_CHAT_TEMPLATE


def test_prompt_longer_than_the_context(generator: LocalGenerator) -> None:
    huge = make_chunk("ridge lasso " * 2000, source="x.md")
    request = GenerationRequest("q", [huge], build_messages("q", [huge]), max_tokens=4)
    # An upstream failure, so the service falls back to its extractive answer.
    with pytest.raises(UpstreamModelError, match=r"the prompt is \d+ tokens but .* at most 1024"):
        generator.generate(request)
    with pytest.raises(UpstreamModelError, match="at most 1024"):
        list(generator.stream(request))
    with pytest.raises(BadInputError, match="max_tokens must be > 0, got 0"):
        generator.generate(_request(max_tokens=0))


def test_missing_model_and_adapter_are_config_errors(model_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as err:
        LocalGenerator(str(missing))
    assert str(missing) in str(err.value) and "not reachable offline" in str(err.value)
    with pytest.raises(ConfigError, match=r"'nobody/nothing'.*Hugging Face cache"):
        LocalGenerator("nobody/nothing")
    with pytest.raises(ConfigError, match=r"no LoRA adapter at .*adapter_config\.json"):
        LocalGenerator(str(model_dir), adapter=tmp_path)
    with pytest.raises(ConfigError, match="max_new_tokens must be > 0, got 0"):
        LocalGenerator(str(model_dir), max_new_tokens=0)


def test_time_budget_ends_in_a_timeout_the_service_falls_back_on(model_dir: Path) -> None:
    from assistant.errors import UpstreamTimeoutError

    # A budget that is over before the first token: the stop rule fires at once.
    late = LocalGenerator(str(model_dir), device="cpu", max_new_tokens=32, time_budget_s=1e-9)
    with pytest.raises(UpstreamTimeoutError, match="time budget") as info:
        list(late.stream(_request(max_tokens=16)))
    assert isinstance(info.value, UpstreamModelError)  # what the service degrades on
    with pytest.raises(UpstreamTimeoutError):
        late.generate(_request(max_tokens=16))
    with pytest.raises(ConfigError, match="time_budget_s must be > 0, got 0"):
        LocalGenerator(str(model_dir), device="cpu", time_budget_s=0)


def test_stop_ids_include_end_of_turn_tokens(generator: LocalGenerator) -> None:
    vocab = generator.tokenizer.get_vocab()
    expected = {vocab[t] for t in ("<end_of_turn>", "<|im_end|>") if t in vocab}
    assert expected <= set(generator._stop_ids())
    assert generator.tokenizer.eos_token_id in generator._stop_ids()
