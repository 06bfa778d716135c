"""Hyperparameters of a LoRA fine-tuning run: one dataclass, a comment per field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from assistant.errors import BadInputError


@dataclass
class TrainConfig:
    """Everything that shapes a LoRA run; defaults suit a 0.5B-3B chat model on one GPU."""

    # --- LoRA (peft) -------------------------------------------------------------------
    lora_r: int = 16  # rank of the low-rank update B @ A; more rank = more capacity and memory
    lora_alpha: int = 32  # the update is scaled by alpha / r, so alpha = 2r keeps the scale at 2
    lora_dropout: float = 0.05  # dropout on the LoRA input path only; the base model is frozen
    target_modules: str | list[str] = "all-linear"  # every nn.Linear except the output head
    # --- optimisation ------------------------------------------------------------------
    learning_rate: float = 2e-4  # peak AdamW learning rate, after warmup
    min_lr_ratio: float = 0.1  # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 10  # linear warmup, in optimizer steps
    weight_decay: float = 0.0  # AdamW decoupled weight decay on the LoRA matrices
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    batch_size: int = 4  # examples per micro-batch (one forward/backward)
    grad_accum_steps: int = 4  # micro-batches per optimizer step: effective batch = 16
    max_steps: int = 100  # optimizer steps in total (a resumed run continues up to this)
    max_minutes: float | None = None  # stop after this much training time (the adapter is saved)
    # tokens per example; prompts longer than this are an error. None = the model's context
    # (max_position_embeddings): each example is then as long as it is, so memory and time
    # follow the data (~900 tokens for 3 passages), not the 32k context of Gemma 3.
    max_seq_len: int | None = None
    gradient_checkpointing: bool = (
        True  # recompute activations in backward: less memory, ~30% slower
    )
    # --- evaluation, checkpoints, reproducibility ---------------------------------------
    eval_fraction: float = 0.1  # share of pairs held out for eval loss (at least one pair)
    eval_every: int = 25  # optimizer steps between eval-loss points on the curve; 0 = only ends
    save_every: int = 50  # optimizer steps between resumable checkpoints; 0 = none
    seed: int = 1337  # seeds torch, the data order and the train/eval split
    device: str | None = None  # "cpu", "cuda", "cuda:1"; None = cuda when available

    def validate(self) -> None:
        """Raise ``BadInputError`` naming the first nonsensical value."""
        positive = {
            "lora_r": self.lora_r,
            "lora_alpha": self.lora_alpha,
            "batch_size": self.batch_size,
            "grad_accum_steps": self.grad_accum_steps,
            "max_steps": self.max_steps,
            "learning_rate": self.learning_rate,
        }
        for name, value in positive.items():
            if value <= 0:
                raise BadInputError(f"{name} must be > 0, got {value}")
        if self.max_seq_len is not None and self.max_seq_len <= 0:
            raise BadInputError(f"max_seq_len must be > 0, got {self.max_seq_len}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise BadInputError(f"max_minutes must be > 0, got {self.max_minutes}")
        non_negative = {
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            "eval_every": self.eval_every,
            "save_every": self.save_every,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise BadInputError(f"{name} must be >= 0, got {value}")
        if not 0 <= self.lora_dropout < 1:
            raise BadInputError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if not 0 < self.eval_fraction < 1:
            raise BadInputError(f"eval_fraction must be in (0, 1), got {self.eval_fraction}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise BadInputError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if not self.target_modules:
            raise BadInputError("target_modules must name at least one module, got nothing")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)
