"""What a sentence-transformers model folder says about itself, read without loading it.

The build job needs the tokenizer, the dimension and the sequence limit before it knows
whether anything has to be embedded; reading them from the folder's JSON files costs
milliseconds, where loading the model (and torch) costs seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
POOLING_MODES = ("mean", "cls", "max")


class TokenCounter:
    """The model's fast tokenizer with the one method the chunker calls (ids, no truncation)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=add_special_tokens).ids)


@dataclass(slots=True)
class ModelFiles:
    """A local sentence-transformers folder: Transformer + Pooling (+ Normalize)."""

    path: Path
    dimension: int
    max_seq_length: int
    pooling: str  # mean | cls | max
    prompts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> ModelFiles:
        """Read the folder's configs; ConfigError for layouts this reader does not handle."""
        try:
            modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
            types = [m["type"] for m in modules]
            if types[:2] != [TRANSFORMER, POOLING] or any(t != NORMALIZE for t in types[2:]):
                raise ConfigError(
                    f"{path}: modules {types} are not Transformer + Pooling (+ Normalize); "
                    "use ASSISTANT_EMBEDDING_BACKEND=torch for this model"
                )
            pool_cfg = json.loads(
                (path / modules[1]["path"] / "config.json").read_text(encoding="utf-8")
            )
            modes = [m for m in POOLING_MODES if pool_cfg.get(f"pooling_mode_{m}_tokens")]
            modes += ["cls"] if pool_cfg.get("pooling_mode_cls_token") else []
            if len(modes) != 1:
                raise ConfigError(f"{path}: pooling {pool_cfg} is not one of {POOLING_MODES}")
            st_cfg_file = path / "sentence_bert_config.json"
            st_cfg = json.loads(st_cfg_file.read_text("utf-8")) if st_cfg_file.is_file() else {}
            cfg_file = path / "config_sentence_transformers.json"
            cfg = json.loads(cfg_file.read_text("utf-8")) if cfg_file.is_file() else {}
            if not (path / "tokenizer.json").is_file():
                raise ConfigError(f"{path} has no tokenizer.json (a fast tokenizer is needed)")
            return cls(
                path=path,
                dimension=int(pool_cfg["word_embedding_dimension"]),
                max_seq_length=int(st_cfg.get("max_seq_length") or 512),
                pooling=modes[0],
                prompts=dict(cfg.get("prompts") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigError(
                f"{path} is not a readable sentence-transformers folder: {exc}"
            ) from exc

    def tokenizer(self, max_length: int | None) -> Any:
        """A `tokenizers.Tokenizer` without padding, truncated at ``max_length`` (None: never)."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.no_padding()
        if max_length is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length)
        return tok

    def prompt_text(self, prompt: str | None, default_name: str) -> str:
        """The text put before each input, with sentence-transformers' rules for prompts."""
        if prompt is None:
            return self.prompts.get(default_name, "")
        return self.prompts.get(prompt, prompt)
