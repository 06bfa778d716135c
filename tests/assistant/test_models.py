"""Bundled model names: `gemma-3-270m` is the `local` extra's GGUF; other names pass through."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.generation.models import BUNDLED, cache_root, is_bundled, resolve_model


def test_other_names_and_paths_pass_through() -> None:
    assert resolve_model("./models/my-lm") == "./models/my-lm"
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert is_bundled("gemma-3-270m") and BUNDLED["gemma-3-270m"].extra == "local"


def test_the_cache_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("ASSISTANT_MODEL_CACHE")
    assert cache_root().name == "models"
