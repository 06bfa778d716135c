"""Export a sentence-transformers folder to ONNX once, optionally int8, into a cache dir.

The export needs torch and transformers and takes ~15 s; it happens the first time a
process asks for an ONNX backend of a model and is reused by every later process. The
cache key hashes the weights' size and mtime and the exporter settings, so new weights
or a new quantisation recipe give a new file; a file lock and an atomic rename make
concurrent first uses safe.

int8 is dynamic quantisation with per-channel weight scales: per-tensor scales gave a
cosine to the float vectors of 0.90-0.95 on documentation chunks, per-channel 0.985+
(measured by bench/embedding_backends.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

OPSET = 17
RECIPE = "v1-opset17-eager-int8pc"  # bump when the export or quantisation changes
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_key(model_dir: Path) -> str:
    """Stable name for one model folder's weights and this module's recipe."""
    h = hashlib.sha256(RECIPE.encode())
    for name in sorted(os.listdir(model_dir)):
        f = model_dir / name
        if f.is_file() and (name.endswith((".json", ".safetensors", ".bin", ".txt"))):
            st = f.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{model_dir.name}-{h.hexdigest()[:16]}"


def onnx_path(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """The cached ONNX file for ``model_dir``, exported (and quantised) on first use."""
    from filelock import FileLock

    folder = cache_dir / cache_key(model_dir)
    target = folder / ("model-int8.onnx" if quantized else "model.onnx")
    if target.is_file():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the ONNX cache {folder}: {exc.strerror or exc}; "
            "set ASSISTANT_EMBEDDING_CACHE_DIR to a writable folder"
        ) from exc
    with FileLock(str(folder / ".export.lock")):
        if target.is_file():  # another process finished it while we waited
            return target
        fp32 = folder / "model.onnx"
        if not fp32.is_file():
            _export(model_dir, fp32)
        if quantized:
            _quantize(fp32, target)
    return target


def _export(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    # Once per machine and model (~30 s on 2 cores): said at WARNING so a first command
    # that seems slow says why.
    logger.warning("exporting the embedding model to ONNX once, into %s", out.parent)
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    except Exception as exc:
        raise ConfigError(f"cannot load {model_dir} for the ONNX export: {exc}") from exc

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> torch.Tensor:
            out = self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types)
            return out.last_hidden_state  # (B, T, H)

    # Two rows of different lengths: the traced graph must not bake in one padding.
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    axes = {"batch": 0, "tokens": 1}
    # The tracer's notes on advanced indexing concern negative indices, which BERT's graph
    # does not use; they are noise on a user's terminal.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Encoder(model),
            (ids, mask, torch.zeros_like(ids)),
            str(tmp),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {v: k for k, v in axes.items()} for name in (*INPUTS, "last_hidden_state")
            },
            opset_version=OPSET,
        )
    os.replace(tmp, out)


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logger.info("quantising %s to int8 (once): %s", fp32, out)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(tmp, out)
