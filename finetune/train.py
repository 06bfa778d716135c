"""LoRA fine-tuning of any causal LM on Q&A pairs, in the service's RAG prompt format.

Runnable commands, from the repository root:

    # 1. build the pairs from the corpus (retrieved passages attached) plus the curated ones
    assistant finetune data --out var/finetune/pairs.jsonl

    # 2. train a LoRA adapter (bf16 on a GPU, fp32 on CPU); defaults in finetune/config.py
    assistant finetune train --base Qwen/Qwen2.5-0.5B-Instruct \\
        --data var/finetune/pairs.jsonl --out var/finetune/qwen-lora

    # a quick CPU smoke run: few steps, small batches
    assistant finetune train --base ./models/my-small-lm --data var/finetune/pairs.jsonl \\
        --out var/finetune/smoke --max-steps 20 --batch-size 2 --grad-accum 1

    # continue an interrupted run from its last checkpoint, and also write merged weights
    assistant finetune train --base Qwen/Qwen2.5-0.5B-Instruct \\
        --data var/finetune/pairs.jsonl --out var/finetune/qwen-lora --resume --merge

    # 3. serve with the adapter
    ASSISTANT_LLM_BACKEND=local ASSISTANT_LLM_MODEL=Qwen/Qwen2.5-0.5B-Instruct \\
        ASSISTANT_LLM_ADAPTER=var/finetune/qwen-lora assistant serve

The output folder holds the adapter (``adapter_model.safetensors``), the tokenizer,
``report.json``, ``loss_curve.png``, ``checkpoint/`` and, with ``--merge``, ``merged/``.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError
from assistant.extras import require
from assistant.generation.local import (
    FALLBACK_CHAT_TEMPLATE,
    default_device,
    load_adapter,
    load_causal_lm,
    load_tokenizer,
)
from assistant.index import sha256_file
from finetune.checkpoint import (
    CheckpointState,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from finetune.config import TrainConfig
from finetune.data import dedupe, load_pairs, split_pairs
from finetune.examples import IGNORE_INDEX, BatchOrder, Example, collate, encode_pairs
from finetune.report import TrainReport, plot_loss_curve

logger = logging.getLogger(__name__)

# Settings a resumed run must share with its checkpoint, or the run would not be the same.
DEFAULT_SEQ_LEN = 1024  # when the model's config names no context length
RESUME_FIXED = ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "batch_size",
                "grad_accum_steps", "max_seq_len", "eval_fraction", "seed")  # fmt: skip


@dataclass
class TrainResult:
    """The report, and the trained peft model still in memory (for callers that go on)."""

    report: TrainReport
    model: Any


def model_context(base: str) -> int | None:
    """The model's context length from its config alone (no weights loaded)."""
    from transformers import AutoConfig

    from assistant.generation.models import resolve_model

    try:
        config = AutoConfig.from_pretrained(resolve_model(base), local_files_only=True)
    except Exception:  # the model load that follows reports a missing model properly
        return None
    value = getattr(config, "max_position_embeddings", None)
    if value is None and hasattr(config, "get_text_config"):
        value = getattr(config.get_text_config(), "max_position_embeddings", None)
    return int(value) if value else None


def answer_loss(model: Any, batch: dict[str, Any], reduction: str = "mean") -> Any:
    """Cross-entropy on the answer tokens only, with logits computed only where needed.

    The output head of a 262k-token vocabulary costs as much as the rest of Gemma 3 270M:
    ``logits_to_keep`` limits it to the positions from the first answer token on.
    """
    import torch
    import torch.nn.functional as F

    labels = batch["labels"]  # (B, T)
    answer = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    start = max(0, int(answer[0]) - 1) if len(answer) else 0
    keep = torch.arange(start, labels.shape[1] - 1, device=labels.device)
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits  # (B, T - 1 - start, V)
    target = labels[:, start + 1 :]
    return F.cross_entropy(
        logits.flatten(0, 1).float(),
        target.flatten(),
        ignore_index=IGNORE_INDEX,
        reduction=reduction,
    )


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay to ``learning_rate * min_lr_ratio`` (nanoGPT get_lr)."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_steps + 1)
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    min_lr = cfg.learning_rate * cfg.min_lr_ratio
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.learning_rate - min_lr)


def _autocast(device: str) -> Any:
    import contextlib

    import torch

    if device.startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def eval_loss(model: Any, examples: list[Example], cfg: TrainConfig, pad_id: int) -> float:
    """Mean cross-entropy per answer token over ``examples`` (nats)."""
    import torch

    device = str(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(examples), cfg.batch_size):
            batch = collate(examples[i : i + cfg.batch_size], pad_id, device)
            with _autocast(device):
                total += float(answer_loss(model, batch, reduction="sum"))
            tokens += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    model.train(was_training)
    return total / max(tokens, 1)


def _check_out_dir(out: Path, *, overwrite: bool, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BadInputError(f"--out {out} is a file, not a directory")
    if (out / "adapter_config.json").exists() and not (overwrite or resume):
        raise BadInputError(
            f"{out} already holds an adapter: pass --overwrite to replace it, "
            "--resume to continue its run, or choose another --out"
        )


def _check_resume(state: CheckpointState, cfg: TrainConfig, base: str, data_hash: str) -> None:
    saved = state.report.get("config", {})
    for name in RESUME_FIXED:
        if name in saved and saved[name] != getattr(cfg, name):
            raise BadInputError(
                f"cannot resume: the checkpoint was trained with {name}={saved[name]!r}, "
                f"this run asks for {getattr(cfg, name)!r}"
            )
    if state.base != base:
        raise BadInputError(f"cannot resume: the checkpoint's base is {state.base!r}, not {base!r}")
    if state.data_sha256 != data_hash:
        raise BadInputError("cannot resume: the dataset changed since the checkpoint was saved")


def _lora_model(model: Any, cfg: TrainConfig) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    if cfg.gradient_checkpointing and getattr(model, "supports_gradient_checkpointing", False):
        # Non-reentrant checkpointing needs no requires_grad on inputs with a frozen base.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable(kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    model.config.use_cache = False  # the KV cache is useless in training and conflicts with it
    torch.manual_seed(cfg.seed)  # LoRA A is randomly initialised
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    # autocast_adapter_dtype keeps the LoRA matrices in fp32 over a bf16 base.
    return get_peft_model(model, lora, autocast_adapter_dtype=True)


def train(
    cfg: TrainConfig,
    *,
    base: str,
    data: Path,
    out: Path,
    resume: bool = False,
    overwrite: bool = False,
    merge: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Check every input, then train a LoRA adapter on ``data`` and write it to ``out``."""
    import torch
    from tqdm.auto import tqdm

    started = time.perf_counter()
    # --- every check comes before any training -----------------------------------------
    for module in ("accelerate", "matplotlib"):  # model loading; the loss-curve plot
        require(module, "finetune", "fine-tuning")
    cfg.validate()
    _check_out_dir(out, overwrite=overwrite, resume=resume)
    pairs, dropped = dedupe(load_pairs(data))
    train_pairs, eval_pairs = split_pairs(pairs, cfg.eval_fraction, cfg.seed)
    data_hash = sha256_file(data)
    state = read_checkpoint(out) if resume else None
    if state is not None:
        _check_resume(state, cfg, base, data_hash)
    tokenizer = load_tokenizer(base)
    if not getattr(tokenizer, "chat_template", None):
        # Saved with the adapter, so other servers render the prompt the same way.
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    context = model_context(base)
    if cfg.max_seq_len is None:
        cfg.max_seq_len = context or DEFAULT_SEQ_LEN
    if context is not None and cfg.max_seq_len > context:
        raise BadInputError(
            f"max_seq_len={cfg.max_seq_len} exceeds the context of {base!r} ({context} tokens)"
        )
    examples = encode_pairs(tokenizer, [*train_pairs, *eval_pairs], cfg.max_seq_len)
    train_ex, eval_ex = examples[: len(train_pairs)], examples[len(train_pairs) :]
    device = cfg.device or default_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError(f"device {device!r} was asked for, but CUDA is not available here")
    model = load_causal_lm(base, device=device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # --- model and optimizer -----------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    if overwrite and not resume:
        shutil.rmtree(out / "checkpoint", ignore_errors=True)  # never resume a replaced run
    model = _lora_model(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    if state is not None:
        restore_checkpoint(out, model, optimizer)
        report = TrainReport(**state.report)
        report.resumed_from_step = state.step
        report.config = cfg.to_json()
        report.train_tokens, report.train_seconds = 0, 0.0
        start = state.step
    else:
        report = TrainReport(
            base=base, data=str(data), out_dir=str(out), device=device,
            dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
            n_train=len(train_ex), n_eval=len(eval_ex), duplicates_dropped=dropped,
            trainable_params=trainable, total_params=total,
            trainable_fraction=trainable / total,
            eval_loss_before=eval_loss(model, eval_ex, cfg, pad_id),
            config=cfg.to_json(),
        )  # fmt: skip
        report.eval_loss.append((0, report.eval_loss_before))
        start = 0
        torch.manual_seed(cfg.seed)  # dropout masks
    logger.info(
        "LoRA on %s: %d trainable of %d parameters (%.3f%%), %d train / %d eval pairs",
        base, trainable, total, 100 * trainable / total, len(train_ex), len(eval_ex),
    )  # fmt: skip

    # --- the loop ----------------------------------------------------------------------
    order = BatchOrder(len(train_ex), cfg.batch_size, cfg.seed)
    model.train()
    bar = tqdm(total=cfg.max_steps, initial=start, disable=not progress, desc="lora", unit="step")
    for step in range(start, cfg.max_steps):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        step_loss = 0.0
        for micro in range(cfg.grad_accum_steps):
            idx = order.micro_batch(step * cfg.grad_accum_steps + micro)
            batch = collate([train_ex[i] for i in idx], pad_id, device)
            with _autocast(device):
                loss = answer_loss(model, batch) / cfg.grad_accum_steps
            loss.backward()
            step_loss += float(loss.detach())
            report.train_tokens += int(batch["attention_mask"].sum())
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        report.train_seconds += time.perf_counter() - t0
        done = step + 1
        report.steps = done
        report.train_loss.append((done, step_loss))
        bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{lr_at(step, cfg):.2e}")
        bar.update(1)
        if cfg.eval_every and done % cfg.eval_every == 0 and done < cfg.max_steps:
            report.eval_loss.append((done, eval_loss(model, eval_ex, cfg, pad_id)))
        if cfg.save_every and done % cfg.save_every == 0 and done < cfg.max_steps:
            report.tokens_per_s = report.train_tokens / max(report.train_seconds, 1e-9)
            save_checkpoint(out, model, optimizer, CheckpointState(done, data_hash, base, report.to_json()))  # fmt: skip
        if cfg.max_minutes is not None and report.train_seconds >= 60 * cfg.max_minutes:
            logger.warning(
                "stopping after %d steps: --max-minutes %s reached", done, cfg.max_minutes
            )
            break
    bar.close()

    # --- results -------------------------------------------------------------------------
    report.eval_loss_after = eval_loss(model, eval_ex, cfg, pad_id)
    if not report.eval_loss or report.eval_loss[-1][0] != report.steps:
        report.eval_loss.append((report.steps, report.eval_loss_after))
    report.tokens_per_s = report.train_tokens / max(report.train_seconds, 1e-9)
    for peft_config in getattr(model, "peft_config", {}).values():
        peft_config.base_model_name_or_path = base  # the name, not a resolved cache folder
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if merge:
        report.merged_dir = str(merge_adapter(base, out, out / "merged", device=device))
    report.total_seconds = time.perf_counter() - started
    report.write(out)
    plot_loss_curve(report, out / "loss_curve.png")
    logger.info(
        "eval loss %.4f -> %.4f after %d steps, %.0f tokens/s",
        report.eval_loss_before, report.eval_loss_after, report.steps, report.tokens_per_s,
    )  # fmt: skip
    return TrainResult(report, model)


def merge_adapter(base: str, adapter: Path, out: Path, *, device: str) -> Path:
    """Fold the adapter into a fresh copy of the base weights and save a plain model."""
    merged = load_adapter(load_causal_lm(base, device=device), adapter).merge_and_unload()
    merged.save_pretrained(out)
    load_tokenizer(str(adapter)).save_pretrained(out)
    return out
