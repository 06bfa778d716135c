"""Resumable checkpoints: adapter weights, optimizer and RNG state, and the step reached.

Layout of ``<out>/checkpoint/``: the peft adapter (``adapter_model.safetensors`` +
``adapter_config.json``), ``optimizer.pt`` (AdamW moments and torch RNG state, loaded
with ``weights_only=True``) and ``state.json`` (step, data hash, report so far).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError

CHECKPOINT = "checkpoint"


@dataclass(slots=True)
class CheckpointState:
    """What ``state.json`` holds: where training stopped, and on which data and settings."""

    step: int
    data_sha256: str
    base: str
    report: dict[str, Any]


def save_checkpoint(out_dir: Path, model: Any, optimizer: Any, state: CheckpointState) -> Path:
    """Write the checkpoint beside the old one, then swap, so a crash never leaves half of one."""
    import torch

    final = out_dir / CHECKPOINT
    tmp = out_dir / f"{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    payload = {"optimizer": optimizer.state_dict(), "rng_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        payload["rng_cuda"] = torch.cuda.get_rng_state_all()
    torch.save(payload, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(
        json.dumps(
            {
                "step": state.step,
                "data_sha256": state.data_sha256,
                "base": state.base,
                "report": state.report,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def read_checkpoint(out_dir: Path) -> CheckpointState:
    """The saved state, or ``BadInputError`` when there is nothing to resume."""
    path = out_dir / CHECKPOINT / "state.json"
    if not path.is_file():
        raise BadInputError(
            f"nothing to resume in {out_dir}: no checkpoint at {path.parent} "
            "(drop --resume to start a new run)"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    return CheckpointState(int(raw["step"]), raw["data_sha256"], raw["base"], raw["report"])


def restore_checkpoint(out_dir: Path, model: Any, optimizer: Any) -> None:
    """Load adapter weights, optimizer moments and RNG state into a freshly built run."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    ck = out_dir / CHECKPOINT
    device = next(p.device for p in model.parameters())
    set_peft_model_state_dict(
        model, load_file(ck / "adapter_model.safetensors", device=str(device))
    )
    payload = torch.load(ck / "optimizer.pt", map_location=device, weights_only=True)
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_cpu"].cpu())
    if "rng_cuda" in payload and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in payload["rng_cuda"]])
