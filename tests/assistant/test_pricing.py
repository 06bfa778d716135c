"""Pricing table lookups and costs, and token counting without network."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.pricing import ModelPrice, PricingTable
from assistant.tokens import count_tokens_estimate, encoding_for_model, estimate_tokens


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pricing.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_table_prices_well_known_models() -> None:
    table = PricingTable.default()
    assert table.price("gpt-4o") == ModelPrice(2.50, 10.00)
    # 1M prompt tokens at $0.15 plus 1M completion tokens at $0.60
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.cost("gpt-4o-mini", 1000, 200) == pytest.approx(0.00027)


def test_exact_match_then_most_specific_glob(tmp_path: Path) -> None:
    table = PricingTable.from_toml(
        write(
            tmp_path,
            """
[models]
"gpt-4o" = { input = 2.5, output = 10 }
"gpt-4o*" = { input = 5, output = 15 }
"gpt-4o-mini*" = { input = 0.15, output = 0.6 }
"my-local-llama" = { input = 0.01, output = 0.02 }
""",
        )
    )
    assert table.price("gpt-4o") == ModelPrice(2.5, 10)
    assert table.price("GPT-4o") == ModelPrice(2.5, 10)  # names compare case-insensitively
    assert table.price("gpt-4o-2024-08-06") == ModelPrice(5, 15)
    assert table.price("gpt-4o-mini-2024-07-18") == ModelPrice(0.15, 0.6)
    assert table.price("gpt-3.5-turbo") is None
    # A local model costs what the operator configured.
    assert table.cost("my-local-llama", 1_000_000, 0, backend="local") == pytest.approx(0.01)


def test_unknown_models_cost_zero_and_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    table = PricingTable.empty()
    with caplog.at_level(logging.WARNING, logger="assistant.pricing"):
        assert table.cost("mystery-model", 100, 100, backend="openai") == 0.0
        assert table.cost("mystery-model", 100, 100, backend="openai") == 0.0
        assert table.cost("extractive", 0, 0, backend="extractive") == 0.0
        assert table.cost("Qwen2.5-0.5B", 500, 50, backend="local") == 0.0
        assert table.cost("extractive:all-MiniLM-L6-v2", 0, 0) == 0.0
        assert table.cost("other-model", 0, 0) == 0.0  # nothing billed: nothing to warn about
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "'mystery-model'" in warnings[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models\n", "is not valid TOML"),
        ('models = "gpt"', "\\[models\\] must be a table, got str"),
        ('[models]\n"m" = { input = 1 }', "model 'm' needs"),
        ('[models]\n"m" = { input = "cheap", output = 1 }', "model 'm' has a non-numeric price"),
        (
            '[models]\n"m" = { input = -1, output = 1 }',
            "price input for model 'm' must be >= 0, got -1.0",
        ),
    ],
)
def test_bad_pricing_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PricingTable.from_toml(write(tmp_path, text))


def test_missing_pricing_file_and_negative_tokens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml' does not exist"):
        PricingTable.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="prompt=-3"):
        PricingTable.default().cost("gpt-4o", -3, 0)


# --- tokens ---------------------------------------------------------------------------
def test_estimate_rounds_up_a_quarter_of_the_characters() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_without_local_tiktoken_files_counts_are_estimates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    started = time.perf_counter()
    for _ in range(1000):
        assert count_tokens_estimate("What is ridge regression?") == (7, False)
    assert time.perf_counter() - started < 0.5  # the missing file is remembered, not re-checked
    assert count_tokens_estimate("x" * 41, model="gpt-4o-mini") == (11, False)


def test_a_corrupt_tiktoken_file_is_never_replaced_by_a_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tiktoken itself would delete a file with the wrong checksum and download it again.
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    corrupt = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    corrupt.write_bytes(b"not a bpe file")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    started = time.perf_counter()
    assert count_tokens_estimate("hello world") == (3, False)
    assert time.perf_counter() - started < 0.5
    assert corrupt.read_bytes() == b"not a bpe file"


def test_disabled_tiktoken_cache_means_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken would download on every load
    assert count_tokens_estimate("abc") == (1, False)


def test_encoding_follows_the_model_family() -> None:
    assert encoding_for_model("gpt-4o-mini") == "o200k_base"
    assert encoding_for_model("o3-mini") == "o200k_base"
    assert encoding_for_model("gpt-4-turbo") == "cl100k_base"
    assert encoding_for_model(None) == "cl100k_base"
