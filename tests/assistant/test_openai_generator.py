"""OpenAIGenerator (the official ``openai`` SDK) against a real OpenAI-speaking HTTP server on loopback.

Retries, their backoff and ``Retry-After`` are the SDK's (0.5 s doubling, 25 % jitter);
these tests check the policy we add on top: read timeouts and stalls are final, a
``Retry-After`` above the ceiling fails at once, and reasoning models get the parameters
OpenAI accepts from them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate

import pytest

from assistant.errors import (
    BadInputError,
    ConfigError,
    UpstreamModelError,
    UpstreamTimeoutError,
)
from assistant.generation.breaker import CircuitBreaker
from assistant.generation.openai import OpenAIGenerator
from assistant.protocols import GenerationRequest
from assistant.types import Generation
from tests.fakes.openai_server import DEFAULT_TEXT, OpenAIServer, Reply

SECRET = "sk-test-SECRET123"
MakeGen = Callable[..., OpenAIGenerator]


def request(**kw: object) -> GenerationRequest:
    messages = [
        {"role": "system", "content": "Answer from the passages."},
        {
            "role": "user",
            "content": "<passages>[1] Ridge adds an L2 penalty.</passages> What is ridge?",
        },
    ]
    return GenerationRequest(question="What is ridge?", passages=[], messages=messages, **kw)  # type: ignore[arg-type]


@pytest.fixture
def srv() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def make(srv: OpenAIServer) -> Iterator[MakeGen]:
    """Generators on ``srv`` with test-sized timeouts; closed after the test."""
    made: list[OpenAIGenerator] = []

    def factory(**kw: object) -> OpenAIGenerator:
        opts: dict[str, object] = {
            "base_url": srv.url,
            "model": "configured-model",
            "api_key": SECRET,
            "timeout_s": 5.0,
            "connect_timeout_s": 1.0,
        }
        gen = OpenAIGenerator(**(opts | kw))  # type: ignore[arg-type]
        made.append(gen)
        return gen

    yield factory
    for gen in made:
        gen.close()


def drain(gen: OpenAIGenerator, got: list[str] | None = None) -> tuple[list[str], Generation]:
    """Deltas and the final Generation of a stream (deltas also appended to ``got`` as they come)."""
    deltas = got if got is not None else []
    finals = []
    for item in gen.stream(request()):
        if isinstance(item, Generation):
            finals.append(item)
        else:
            assert not finals, "a delta arrived after the final Generation"
            deltas.append(item)
    assert len(finals) == 1
    return deltas, finals[0]


# --- happy paths -------------------------------------------------------------------------------


def test_generate_round_trips_text_usage_and_reported_model(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(Reply.ok("Lasso zeroes weights [2].", usage=(1234, 56), model="served-2024-07"))
    gen = make()
    out = gen.generate(request(max_tokens=77, temperature=0.4))
    assert out.text == "Lasso zeroes weights [2]."
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.exact) == (
        1234,
        56,
        True,
    )
    assert out.model == "served-2024-07" and gen.model == "configured-model"
    assert out.finish_reason == "stop"
    (sent,) = srv.completions
    assert sent.body == {
        "model": "configured-model",
        "messages": request().messages,
        "max_tokens": 77,
        "temperature": 0.4,
    }
    assert sent.headers["authorization"] == f"Bearer {SECRET}"


def test_stream_deltas_concatenate_to_final_text_with_exact_usage(
    srv: OpenAIServer, make: MakeGen
) -> None:
    text = "Ridge adds an L2 penalty [1], lasso an L1 penalty [2]."
    srv.push(Reply.ok(text, usage=(321, 17), model="served-stream"))
    deltas, final = drain(make())
    assert len(deltas) > 5 and "".join(deltas) == final.text == text
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.exact) == (
        321,
        17,
        True,
    )
    assert final.model == "served-stream"
    body = srv.completions[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("streaming", [False, True])
def test_missing_usage_is_estimated_and_marked_inexact(
    srv: OpenAIServer, make: MakeGen, streaming: bool
) -> None:
    srv.push(Reply.ok(DEFAULT_TEXT, omit_usage=True))
    gen = make()
    out = drain(gen)[1] if streaming else gen.generate(request())
    assert out.text == DEFAULT_TEXT
    assert out.usage.exact is False
    assert out.usage.prompt_tokens > 5 and 0 < out.usage.completion_tokens < 30


def test_no_api_key_sends_no_authorization_header(srv: OpenAIServer, make: MakeGen) -> None:
    make(api_key=None).generate(request())
    assert "authorization" not in srv.completions[0].headers


def test_server_that_ignores_stream_flag_still_streams_one_delta(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(
        Reply.raw(
            '{"model": "plain", "choices": [{"message": {"content": "Whole [1]."}, '
            '"finish_reason": "length"}], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}'
        )
    )
    deltas, final = drain(make())
    assert deltas == ["Whole [1]."] and final.text == "Whole [1]."
    assert final.finish_reason == "length" and final.usage.prompt_tokens == 9


def test_concurrent_calls_share_one_generator(srv: OpenAIServer, make: MakeGen) -> None:
    gen = make()
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(gen.generate(request()).text))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == [DEFAULT_TEXT] * 8 and len(srv.completions) == 8


# --- retries ---------------------------------------------------------------------------------


def test_429_with_retry_after_one_second_is_retried_after_about_one_second(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(Reply.error(429, "Rate limit reached", retry_after=1))
    start = time.monotonic()
    out = make().generate(request())
    elapsed = time.monotonic() - start
    assert out.text == DEFAULT_TEXT
    first, second = srv.completions
    assert 0.95 <= second.at - first.at < 1.5
    assert 0.95 <= elapsed < 1.6


@pytest.mark.parametrize(
    "retry_after",
    ["3600", formatdate(time.time() + 3600, usegmt=True)],
    ids=["seconds", "http-date"],
)
def test_retry_after_above_the_ceiling_fails_fast_instead_of_retrying_early(
    srv: OpenAIServer, make: MakeGen, retry_after: str
) -> None:
    # Issue 11 item 9: the old code cut 3600 s to max_backoff_s and retried early.
    srv.push(Reply.error(503, "overloaded", retry_after=retry_after))
    gen = make(max_retry_after_s=5)
    with pytest.raises(UpstreamModelError) as err:
        gen.generate(request())
    assert len(srv.completions) == 1, "no retry before the provider allows it"
    assert "more than the 5 s ceiling" in str(err.value)
    assert "ASSISTANT_LLM_MAX_RETRY_AFTER_S" in str(err.value)


def test_retry_after_below_the_ceiling_is_honoured_as_sent(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(Reply.error(429, "slow down", retry_after=1.5))
    out = make(max_retry_after_s=5).generate(request())
    assert out.text == DEFAULT_TEXT
    first, second = srv.completions
    # A lower bound only: the retry must not go out before the provider allows it.
    assert second.at - first.at >= 1.5


def test_two_500s_then_ok_succeeds_with_three_requests(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.error(500), Reply.error(502), Reply.ok("Third time [1].", usage=(5, 3)))
    out = make(max_retries=2).generate(request())
    assert out.text == "Third time [1]." and len(srv.completions) == 3


def test_persistent_500_fails_after_max_retries_plus_one_requests(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.default = Reply.error(500, "The server had an error while processing your request")
    with pytest.raises(UpstreamModelError) as err:
        make(max_retries=2).generate(request())
    assert not isinstance(err.value, UpstreamTimeoutError)
    assert len(srv.completions) == 3
    msg = str(err.value)
    assert "HTTP 500" in msg and "had an error while processing" in msg and "3 attempts" in msg
    retries = [r.headers["x-stainless-retry-count"] for r in srv.completions]
    assert retries == ["0", "1", "2"]  # the SDK's own attempts, not ours


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadInputError),
        (413, BadInputError),
        (422, BadInputError),
        (401, UpstreamModelError),
        (404, UpstreamModelError),
    ],
)
def test_other_4xx_fail_at_once_with_status_and_provider_message(
    srv: OpenAIServer, make: MakeGen, status: int, error: type[Exception]
) -> None:
    srv.push(Reply.error(status, f"provider says {status} no"))
    with pytest.raises(error) as err:
        make(max_retries=3).generate(request())
    assert f"HTTP {status}" in str(err.value) and f"provider says {status} no" in str(err.value)
    assert len(srv.completions) == 1


def test_malformed_json_is_an_upstream_error(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.raw("<html>gateway</html>"))
    with pytest.raises(UpstreamModelError, match="malformed JSON"):
        make().generate(request())


def test_connection_refused_when_server_stopped(srv: OpenAIServer, make: MakeGen) -> None:
    gen = make(max_retries=1)
    gen.generate(request())  # leaves a pooled keep-alive connection behind
    srv.stop()
    for call in (lambda: gen.generate(request()), lambda: drain(gen)):
        with pytest.raises(UpstreamModelError) as err:
            call()
        assert not isinstance(err.value, UpstreamTimeoutError)
        assert "ConnectError" in str(err.value) and "2 attempts" in str(err.value)


# --- streams: stalls and retry rules -----------------------------------------------------------


def test_stalled_stream_raises_timeout_within_stall_timeout(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(Reply.stall(30, after_chunks=2))
    got: list[str] = []
    start = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match="stalled"):
        drain(make(stall_timeout_s=0.3), got)
    assert time.monotonic() - start < 0.3 + 0.7
    assert got == ["Ridge ", "adds "]
    assert len(srv.completions) == 1  # a stall is not retried


def test_stall_before_any_content_is_a_timeout_too(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.stall(30))
    start = time.monotonic()
    with pytest.raises(UpstreamTimeoutError):
        drain(make(stall_timeout_s=0.3))
    assert time.monotonic() - start < 1.0


def test_non_streamed_read_timeout_is_upstream_timeout(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.stall(30))
    start = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match=r"no response within 0\.3"):
        make(timeout_s=0.3).generate(request())
    assert time.monotonic() - start < 1.0


def test_stream_is_retried_until_its_response_begins(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(
        Reply.error(503), Reply.error(429, retry_after=0.2), Reply.ok("Now [1].", usage=(4, 2))
    )
    deltas, final = drain(make(max_retries=2))
    assert "".join(deltas) == final.text == "Now [1]."
    assert len(srv.completions) == 3


def test_stream_cut_after_it_began_is_not_retried(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.disconnect(after_chunks=0))
    with pytest.raises(UpstreamModelError, match="RemoteProtocolError"):
        drain(make(max_retries=2))
    assert len(srv.completions) == 1  # the extractive fallback answers instead of a retry


def test_stream_is_not_retried_after_content_was_yielded(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(Reply.disconnect(after_chunks=2))
    got: list[str] = []
    with pytest.raises(UpstreamModelError, match="not retried"):
        drain(make(max_retries=3), got)
    assert got == ["Ridge ", "adds "] and len(srv.completions) == 1


def sse(*events: str) -> Reply:
    return Reply.raw("".join(events), content_type="text/event-stream")


def test_sse_comments_named_events_and_a_missing_done_are_tolerated(
    srv: OpenAIServer, make: MakeGen
) -> None:
    srv.push(
        sse(
            ": keep-alive\n\n",
            'event: message\nid: 1\ndata: {"model": "m2", "choices": [{"delta": {"content": "A"}}]}\n\n',
            'data: {"choices": [{"delta": {"content": " B"}, "finish_reason": "length"}]}\n\n',
        )
    )
    deltas, final = drain(make())
    assert deltas == ["A", " B"] and final.text == "A B"
    assert final.model == "m2" and final.finish_reason == "length" and not final.usage.exact


def test_error_event_inside_a_stream_is_an_upstream_error(srv: OpenAIServer, make: MakeGen) -> None:
    srv.push(sse('data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n'))
    with pytest.raises(UpstreamModelError, match="model overloaded"):
        drain(make())
    assert len(srv.completions) == 1


def test_stream_that_ends_without_a_finish_reason_fails(srv: OpenAIServer, make: MakeGen) -> None:
    empty = sse('data: {"choices": [{"delta": {"role": "assistant", "content": ""}}]}\n\n')
    srv.push(empty)
    with pytest.raises(UpstreamModelError, match="ended without a finish_reason"):
        drain(make(max_retries=1))
    assert len(srv.completions) == 1


# --- circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_fails_fast_then_half_opens(srv: OpenAIServer, make: MakeGen) -> None:
    gen = make(max_retries=0, breaker=CircuitBreaker(failure_threshold=2, reset_after_s=0.4))
    srv.push(Reply.error(500), Reply.error(500))
    for _ in range(2):
        with pytest.raises(UpstreamModelError, match="HTTP 500"):
            gen.generate(request())
    assert gen.breaker.state == "open" and len(srv.completions) == 2

    start = time.monotonic()
    for call in (lambda: gen.generate(request()), lambda: drain(gen)):
        with pytest.raises(UpstreamModelError, match="circuit open"):
            call()
    assert time.monotonic() - start < 0.1
    assert len(srv.completions) == 2  # nothing reached the server

    time.sleep(0.45)
    assert gen.breaker.state == "half_open"
    assert gen.generate(request()).text == DEFAULT_TEXT  # the trial call goes through
    assert gen.breaker.state == "closed" and len(srv.completions) == 3


def test_failed_half_open_trial_reopens_the_circuit(srv: OpenAIServer, make: MakeGen) -> None:
    gen = make(max_retries=0, breaker=CircuitBreaker(failure_threshold=1, reset_after_s=0.3))
    srv.push(Reply.error(503), Reply.error(503))
    with pytest.raises(UpstreamModelError, match="HTTP 503"):
        gen.generate(request())
    time.sleep(0.35)
    with pytest.raises(UpstreamModelError, match="HTTP 503"):
        drain(gen)  # the trial, as a stream
    with pytest.raises(UpstreamModelError, match="circuit open"):
        gen.generate(request())
    assert len(srv.completions) == 2


def test_4xx_does_not_trip_the_breaker(srv: OpenAIServer, make: MakeGen) -> None:
    gen = make(breaker=CircuitBreaker(failure_threshold=1, reset_after_s=60))
    srv.push(Reply.error(400, "context too long"))
    with pytest.raises(BadInputError):
        gen.generate(request())
    assert gen.breaker.state == "closed"
    assert gen.generate(request()).text == DEFAULT_TEXT


# --- the key never leaks ---------------------------------------------------------------------


def test_api_key_never_leaks(
    srv: OpenAIServer, make: MakeGen, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore debug logs included
    echo = f"Incorrect API key provided: {SECRET}"  # a provider that echoes the key back
    srv.push(Reply.error(500, echo), Reply.error(500, echo))
    gen = make(max_retries=1)
    with pytest.raises(UpstreamModelError) as err:
        gen.generate(request())
    srv.push(Reply.error(401, echo))
    with pytest.raises(UpstreamModelError) as err401:
        drain(gen)

    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in srv.completions)
    texts = [
        str(err.value),
        repr(err.value),
        str(err401.value),
        repr(err401.value),
        repr(gen),
        repr(gen.breaker),
        caplog.text,
        str(err.value.__cause__),
    ]
    for text in texts:
        assert "SECRET123" not in text
    assert "Incorrect API key provided: ***" in str(err.value)
    assert "Retrying request" in caplog.text  # the SDK logged its retry, without the key


@pytest.mark.parametrize("userinfo", ["user:SECRET123@", "SECRET123@", ":SECRET123@"])
def test_credentials_in_base_url_are_refused_without_echoing_them(
    srv: OpenAIServer, userinfo: str
) -> None:
    url = srv.url.replace("http://", f"http://{userinfo}")
    with pytest.raises(ConfigError) as err:
        OpenAIGenerator(base_url=url, model="m", api_key=None, max_retries=0)
    message = str(err.value)
    assert "must not carry credentials" in message and "ASSISTANT_LLM_API_KEY" in message
    assert "SECRET123" not in message and "SECRET123" not in repr(err.value)
    assert srv.completions == []


# --- bad configuration and bad requests ------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"base_url": "ftp://example.org/v1"}, "ftp://example.org/v1"),
        ({"base_url": "not a url"}, "not a url"),
        ({"base_url": "http://[::1"}, "http://"),
        ({"model": ""}, "model"),
        ({"timeout_s": 0}, "timeout_s must be > 0, got 0"),
        ({"connect_timeout_s": -1}, "connect_timeout_s must be > 0, got -1"),
        ({"stall_timeout_s": 0}, "stall_timeout_s must be > 0, got 0"),
        ({"max_retries": -2}, "max_retries must be >= 0, got -2"),
        ({"max_retry_after_s": -1}, "max_retry_after_s must be >= 0, got -1"),
        ({"reasoning_models": "(o1"}, "ASSISTANT_LLM_REASONING_MODELS is not a regular"),
    ],
)
def test_bad_configuration_names_the_value(kw: dict[str, object], named: str) -> None:
    opts: dict[str, object] = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key": None}
    with pytest.raises(ConfigError) as err:
        OpenAIGenerator(**(opts | kw))  # type: ignore[arg-type]
    assert named in str(err.value)


@pytest.mark.parametrize(
    ("req", "named"),
    [
        (request(max_tokens=0), "max_tokens must be > 0, got 0"),
        (request(temperature=3.5), "temperature must be in [0, 2], got 3.5"),
        (GenerationRequest(question="q", passages=[], messages=[]), "got []"),
    ],
)
def test_bad_requests_name_the_value_and_send_nothing(
    srv: OpenAIServer, make: MakeGen, req: GenerationRequest, named: str
) -> None:
    gen = make()
    for call in (lambda: gen.generate(req), lambda: list(gen.stream(req))):
        with pytest.raises(BadInputError) as err:
            call()
        assert named in str(err.value)
    assert srv.completions == [] and gen.breaker.state == "closed"


def test_a_stream_that_sends_bytes_but_no_text_counts_as_stalled(
    srv: OpenAIServer, make: MakeGen
) -> None:
    # Empty chunks every 0.1 s keep the connection busy (no read timeout), yet no token comes.
    srv.push(Reply.stall(30, after_chunks=1, heartbeat_s=0.1))
    got: list[str] = []
    start = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match=r"stream stalled: no text for 0\.5 s"):
        drain(make(stall_timeout_s=0.5), got)
    assert time.monotonic() - start < 0.5 + 1.0
    assert got == ["Ridge "] and len(srv.completions) == 1


# --- reasoning models --------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True])
def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    srv: OpenAIServer, make: MakeGen, streaming: bool
) -> None:
    gen = make(model="o3-mini")
    req = request(max_tokens=77, temperature=0.4)
    out = list(gen.stream(req))[-1] if streaming else gen.generate(req)
    assert isinstance(out, Generation) and out.text == DEFAULT_TEXT
    (sent,) = srv.completions
    assert sent.body["model"] == "o3-mini" and sent.body["max_completion_tokens"] == 77
    assert "max_tokens" not in sent.body and "temperature" not in sent.body


def test_the_fake_refuses_max_tokens_from_a_reasoning_model_as_openai_does(
    srv: OpenAIServer, make: MakeGen
) -> None:
    # The pattern decides: one that misses "o3-mini" sends max_tokens, and OpenAI says no.
    gen = make(model="o3-mini", reasoning_models="^never$")
    with pytest.raises(BadInputError, match=r"HTTP 400: Unsupported parameter: 'max_tokens'"):
        gen.generate(request())
    assert gen.breaker.state == "closed" and len(srv.completions) == 1


@pytest.mark.parametrize(
    ("model", "pattern", "reasoning"),
    [
        ("gpt-5-mini", None, True),
        ("openai/o4-mini", None, True),  # a router's provider prefix
        ("gpt-4o-mini", None, False),
        ("acme/deep-reasoner", "reasoner", True),
        ("o3-mini", "^never$", False),
    ],
)
def test_which_models_count_as_reasoning_models(
    model: str, pattern: str | None, reasoning: bool
) -> None:
    kw = {} if pattern is None else {"reasoning_models": pattern}
    gen = OpenAIGenerator(base_url="http://127.0.0.1:9/v1", model=model, api_key=None, **kw)  # type: ignore[arg-type]
    assert gen.reasoning is reasoning
    gen.close()
