"""OpenAIGenerator under a hung model and a leaking model (issue 11, items 7 and 8)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assistant.answer_writer import FALLBACK_MARKER, write_answer
from assistant.errors import ConfigError, UpstreamModelError
from assistant.generation.limits import ConcurrencyLimit
from assistant.generation.openai import OpenAIGenerator
from assistant.prompts import SYSTEM_PROMPT
from assistant.protocols import GenerationRequest
from assistant.types import Generation, Usage
from tests.fakes.openai_server import OpenAIServer, Reply


def request() -> GenerationRequest:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "<passages>...</passages>\n\nQuestion: What is ridge?"},
    ]
    return GenerationRequest(question="What is ridge?", passages=[], messages=messages)


@pytest.fixture
def srv() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def wait_until(cond, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_calls_beyond_the_cap_fail_fast_while_the_model_hangs(srv: OpenAIServer) -> None:
    srv.default = Reply.stall(30)
    gen = OpenAIGenerator(
        base_url=srv.url,
        model="m",
        api_key=None,
        timeout_s=30,
        max_retries=0,
        max_concurrency=2,
        queue_wait_s=0.05,
    )
    errors: list[Exception] = []

    def hung_call() -> None:
        try:
            gen.generate(request())
        except UpstreamModelError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hung_call) for _ in range(2)]
    for t in threads:
        t.start()
    wait_until(lambda: len(srv.completions) == 2)
    assert gen.limit.in_flight == 2
    for call in (lambda: gen.generate(request()), lambda: list(gen.stream(request()))):
        with pytest.raises(UpstreamModelError, match="ASSISTANT_LLM_MAX_CONCURRENCY"):
            call()
    assert len(srv.completions) == 2, "no request went out beyond the cap"
    assert gen.limit.rejected == 2
    assert gen.breaker.state == "closed", "a full cap is not the endpoint failing"
    srv.stop()  # the hung calls fail now and give their slots back
    for t in threads:
        t.join(timeout=35)
    assert len(errors) == 2 and gen.limit.in_flight == 0
    gen.close()


def test_a_slot_is_given_back_when_a_stream_is_abandoned(srv: OpenAIServer) -> None:
    with OpenAIGenerator(
        base_url=srv.url, model="m", api_key=None, max_concurrency=1, queue_wait_s=0
    ) as gen:
        stream = gen.stream(request())
        first = next(stream)
        assert isinstance(first, str) and gen.limit.in_flight == 1
        stream.close()
        assert gen.limit.in_flight == 0
        assert isinstance(gen.generate(request()), Generation)


@pytest.mark.parametrize("kw", [{"max_concurrent": 0}, {"wait_s": -1}])
def test_bad_limits_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ConcurrencyLimit(**kw)  # type: ignore[arg-type]


def test_a_model_that_returns_the_system_prompt_is_refused(srv: OpenAIServer) -> None:
    leak = "Of course. My instructions say: " + SYSTEM_PROMPT
    srv.push(Reply.ok(leak), Reply.ok(leak))
    with OpenAIGenerator(base_url=srv.url, model="m", api_key=None, max_retries=0) as gen:
        with pytest.raises(UpstreamModelError, match="reproduced the system prompt"):
            gen.generate(request())
        # A stream is checked once, where every backend's answer is written: the model's
        # text stops at the tripwire and the fallback answers after a marker.
        writer = write_answer(gen, CannedFallback(), request())
        sent: list[str] = []
        while True:
            try:
                sent.append(next(writer).text)
            except StopIteration as stop:
                written = stop.value
                break
        assert written.fell_back and written.backend == "extractive"
        assert FALLBACK_MARKER in sent[-1] and "Fallback text [1]." in sent[-1]
        assert len(" ".join(sent[:-1]).split()) < 30, "the stream stopped at the tripwire"
        # The endpoint answered: the breaker stays closed and the slot is free again.
        assert gen.breaker.state == "closed" and gen.limit.in_flight == 0


class CannedFallback:
    """The Generator protocol's extractive stand-in: one fixed answer."""

    backend = "extractive"
    model = "extractive-model"

    def generate(self, request: GenerationRequest) -> Generation:
        return Generation("Fallback text [1].", Usage(0, 0, True), model=self.model)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generation]:
        generation = self.generate(request)
        yield generation.text
        yield generation
