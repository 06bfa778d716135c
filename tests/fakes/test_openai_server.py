"""The fake speaks the protocol the official ``openai`` client expects."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.openai_server import DEFAULT_TEXT, OpenAIServer, Reply


def test_official_client_reads_completions_streams_models_and_errors() -> None:
    with OpenAIServer(api_key="k", model="fake-x") as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="k", max_retries=0)
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is ridge?"}]
        done = client.chat.completions.create(model="m", messages=messages)
        assert done.choices[0].message.content == DEFAULT_TEXT
        assert done.usage is not None and done.usage.completion_tokens == 6

        srv.push(Reply.ok("a b c", usage=(7, 3)))
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "a b c" and chunks[-1].usage is not None
        assert chunks[-1].usage.prompt_tokens == 7

        assert [m.id for m in client.models.list()] == ["fake-x"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.url, api_key="wrong", max_retries=0).models.list()
        srv.push(Reply.error(429, "slow down", retry_after=7))
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="m", messages=messages)
        assert err.value.response.headers["retry-after"] == "7"
        assert len(srv.completions) == 3  # the models and 401 calls are not completions


def test_stop_refuses_new_connections_even_over_keep_alive() -> None:
    srv = OpenAIServer().start()
    with httpx.Client() as client:
        assert client.get(f"{srv.url}/models").status_code == 200
        srv.stop()
        with pytest.raises(httpx.TransportError):
            client.get(f"{srv.url}/models")
    srv.stop()  # idempotent


@pytest.mark.parametrize(
    ("sent", "param", "code"),
    [
        ({"max_tokens": 50}, "max_tokens", "unsupported_parameter"),
        ({"max_completion_tokens": 50, "temperature": 0.2}, "temperature", "unsupported_value"),
    ],
)
def test_reasoning_models_refuse_what_openai_refuses(
    sent: dict[str, float], param: str, code: str
) -> None:
    with OpenAIServer() as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="k", max_retries=0)
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="o3-mini", messages=messages, **sent)  # type: ignore[call-overload]
        assert err.value.param == param and err.value.code == code
        # The same request body is fine for an ordinary model, and so is the right one for o3.
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, **sent)  # type: ignore[call-overload]
        ok = client.chat.completions.create(
            model="o3-mini", messages=messages, max_completion_tokens=50
        )
        assert ok.choices[0].message.content == DEFAULT_TEXT
        assert [r.body["model"] for r in srv.completions] == ["o3-mini", "gpt-4o-mini", "o3-mini"]
