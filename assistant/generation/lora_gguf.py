"""A peft LoRA adapter as a llama.cpp LoRA GGUF file (what llama.cpp's ``--lora`` loads).

llama.cpp applies adapters only in its own format: ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, and per adapted weight two tensors named
after the base tensor, ``blk.N.attn_q.weight.lora_a`` (peft's A, shape (r, in)) and
``.lora_b`` (peft's B, shape (out, r)); the same layout llama.cpp's convert_lora_to_gguf.py
writes. Only the linear layers of Llama/Gemma-style blocks are mapped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from assistant.errors import ConfigError
from assistant.extras import require

# peft module suffix -> llama.cpp tensor name inside block N
MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")
ARCHITECTURES = {"gemma3_text": "gemma3", "gemma3": "gemma3", "llama": "llama", "qwen2": "qwen2"}


def gguf_tensor_name(peft_key: str) -> str:
    """``...layers.3.self_attn.q_proj.lora_A.weight`` -> ``blk.3.attn_q.weight.lora_a``."""
    m = _KEY.search(peft_key)
    if m is None or m.group(2) not in MODULES:
        raise ConfigError(f"cannot map LoRA tensor {peft_key!r} to a llama.cpp tensor")
    return f"blk.{m.group(1)}.{MODULES[m.group(2)]}.weight.lora_{m.group(3).lower()}"


def export_lora_gguf(adapter: Path, out: Path, architecture: str = "gemma3") -> Path:
    """Write ``adapter`` (a peft folder) as a llama.cpp LoRA GGUF at ``out``; return ``out``."""
    from safetensors.numpy import load_file

    gguf = require("gguf", "llamacpp", "exporting a LoRA adapter for llama.cpp")

    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("use_dora") or config.get("use_rslora"):
        raise ConfigError("only plain LoRA adapters can be exported for llama.cpp")
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for key in sorted(tensors):
        writer.add_tensor(gguf_tensor_name(key), tensors[key].astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
