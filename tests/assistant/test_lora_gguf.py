"""Exporting a peft LoRA adapter for llama.cpp: tensor names, shapes and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import gguf  # the `local` extra, installed by `make test`
import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.generation.lora_gguf import export_lora_gguf, gguf_tensor_name


def test_tensor_names_follow_llama_cpp() -> None:
    key = "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
    assert gguf_tensor_name(key) == "blk.3.attn_q.weight.lora_a"
    key = "base_model.model.model.layers.17.mlp.down_proj.lora_B.weight"
    assert gguf_tensor_name(key) == "blk.17.ffn_down.weight.lora_b"
    with pytest.raises(ConfigError, match="cannot map"):
        gguf_tensor_name("base_model.model.lm_head.lora_A.weight")


def test_export_writes_an_adapter_gguf(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"lora_alpha": 16, "r": 8}))
    a = np.ones((8, 640), dtype=np.float32)
    b = np.zeros((1024, 8), dtype=np.float32)
    save_file(
        {
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": a,
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": b,
        },
        str(adapter / "adapter_model.safetensors"),
    )
    out = export_lora_gguf(adapter, tmp_path / "lora.gguf")
    reader = gguf.GGUFReader(str(out))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 16.0 and fields["general.architecture"] == "gemma3"
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    # GGUF lists dimensions innermost first: A (8, 640) is ne = (640, 8)
    assert shapes == {
        "blk.0.attn_q.weight.lora_a": (640, 8),
        "blk.0.attn_q.weight.lora_b": (8, 1024),
    }
