"""`/v1/ask` with the `local` backend serves a trained LoRA adapter end to end over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.finetune.conftest import TrainedRun


@pytest.mark.integration
@pytest.mark.slow
def test_ask_with_local_backend_serves_the_adapter(
    trained: TrainedRun,
    corpus_index: Path,
    embedder,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        corpus_index,
        tmp_path,
        llm_backend="local",
        llm_model=str(trained.base),
        llm_adapter=trained.out,
        llm_max_tokens=12,
        llm_temperature=0.0,
        semantic_cache=False,
    )
    with LiveServer(settings, embedder) as server:
        r = httpx.post(
            server.url + "/v1/ask",
            json={"question": "How long should I spend on Python fundamentals?"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        # The adapter is named in the model, the answer came from the local model (not the
        # extractive fallback), and its tokens were counted by the model's own tokenizer.
        assert body["backend"] == "local"
        assert body["degraded"] is False
        assert trained.out.name in body["model"]
        assert body["usage"]["exact"] is True
        assert body["usage"]["prompt_tokens"] > 50
        assert 0 < body["usage"]["completion_tokens"] <= 12
        server.assistant.ledger.flush()
        summary = server.assistant.ledger.summary(by="model")
        assert summary["totals"]["queries"] == 1
        assert summary["totals"]["prompt_tokens"] == body["usage"]["prompt_tokens"]
