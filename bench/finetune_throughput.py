"""LoRA training throughput: tokens/s of ``finetune.train`` on randomly initialised models.

Always trains the tiny Qwen2-style test model on CPU (well under a minute); when CUDA is
available it also trains a ~0.5B Qwen2-style config (Qwen2-0.5B shapes, random weights,
bf16) and reports tokens/s and peak GPU memory. The data are the corpus's own Q&A pairs
(roadmap and notes, each with its source passage) in the service's RAG prompt format.
Prints JSON::

    .venv/bin/python bench/finetune_throughput.py              # 1 CPU thread, 20 steps
    .venv/bin/python bench/finetune_throughput.py --steps 40 --threads 2

The CPU run uses one intra-op thread by default: the tiny model's matrices are too small
to split, and on 2 shared cores (CI) two OpenMP threads measured 6x slower than one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere

import torch  # noqa: E402

from assistant.prompts import SYSTEM_PROMPT  # noqa: E402
from finetune.config import TrainConfig  # noqa: E402
from finetune.corpus_pairs import build_pairs  # noqa: E402
from finetune.data import write_pairs  # noqa: E402
from finetune.train import train  # noqa: E402
from tests.support.tiny import build_random_causal_lm  # noqa: E402

CORPUS = REPO / "corpus"

CPU_CONFIG = TrainConfig(
    lora_r=8,
    lora_alpha=16,
    learning_rate=1e-2,
    warmup_steps=3,
    batch_size=8,
    grad_accum_steps=1,
    max_steps=20,
    max_seq_len=1024,
    eval_every=0,
    save_every=0,
    gradient_checkpointing=False,
    seed=0,
    device="cpu",
)
GPU_CONFIG = replace(CPU_CONFIG, lora_r=16, lora_alpha=32, learning_rate=2e-4, device="cuda")


def corpus_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.rglob("*.md"))]
    return [*texts, SYSTEM_PROMPT, SYSTEM_PROMPT]


def run(cfg: TrainConfig, base: Path, data: Path, out: Path) -> dict[str, Any]:
    if cfg.device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    r = train(cfg, base=str(base), data=data, out=out, overwrite=True, progress=False).report
    result = {
        "steps": r.steps,
        "train_seconds": round(r.train_seconds, 3),
        "train_tokens": r.train_tokens,
        "tokens_per_s": round(r.tokens_per_s, 1),
        "tokens_per_step": r.train_tokens // max(r.steps, 1),
        "eval_loss_before": round(r.eval_loss_before, 4),
        "eval_loss_after": round(r.eval_loss_after, 4),
        "trainable_params": r.trainable_params,
        "total_params": r.total_params,
        "dtype": r.dtype,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "batch_size": cfg.batch_size * cfg.grad_accum_steps,
    }
    if cfg.device == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        result["gpu"] = torch.cuda.get_device_name()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per run")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU")
    parser.add_argument("--no-gpu", action="store_true", help="skip the 0.5B CUDA runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    report: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as tmp:
        root = Path(tmp)
        pairs, _ = build_pairs(CORPUS, retrieve=None, k=1)
        data = root / "pairs.jsonl"
        write_pairs(data, pairs)
        report["pairs"] = len(pairs)
        texts = corpus_texts()
        tiny = build_random_causal_lm(root / "tiny", texts)
        cpu = replace(CPU_CONFIG, max_steps=args.steps)
        report["cpu_tiny"] = run(cpu, tiny, data, root / "out-tiny")
        if torch.cuda.is_available() and not args.no_gpu:
            big = build_random_causal_lm(root / "qwen2-0.5b", texts, size="0.5b", dtype=torch.bfloat16)  # fmt: skip
            gpu = replace(GPU_CONFIG, max_steps=args.steps)
            report["cuda_0.5b"] = [
                run(replace(gpu, gradient_checkpointing=gc), big, data, root / f"out-big-{gc}")
                for gc in (False, True)
            ]
        else:
            report["cuda_0.5b"] = None
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
