"""A tiny random Qwen2-style model (tokenizer trained here) and one short LoRA run, per session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from assistant.prompts import SYSTEM_PROMPT
from finetune.config import TrainConfig
from finetune.corpus_pairs import attach_context
from finetune.data import dedupe, write_pairs
from finetune.roadmap_pairs import roadmap_drafts
from finetune.train import TrainResult, train
from tests.conftest import CORPUS
from tests.support.tiny import build_random_causal_lm

ROADMAP = (CORPUS / "roadmap.md").read_text(encoding="utf-8")

# The measured run (2 CPU cores): 30 steps, eval loss 7.52 -> ~4.8 on 27 held-out pairs.
TEST_CONFIG = TrainConfig(
    lora_r=8,
    lora_alpha=16,
    lora_dropout=0.05,
    learning_rate=1e-2,
    warmup_steps=3,
    batch_size=8,
    grad_accum_steps=1,
    max_steps=30,
    max_seq_len=512,
    eval_fraction=0.2,
    eval_every=10,
    save_every=20,
    gradient_checkpointing=True,
    seed=0,
    device="cpu",
)


@contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread: on 2 shared CI cores, two OpenMP threads spin against each other.

    Measured here under load: a backward pass with gradient checkpointing took 3.6 s with
    2 threads and 0.15 s with 1.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    with one_thread():
        yield


def build_tiny_model(root: Path) -> Path:
    """Tokenizer trained on the roadmap and the system prompt, random weights, saved to disk."""
    return build_random_causal_lm(root, [ROADMAP, SYSTEM_PROMPT, SYSTEM_PROMPT])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a ~180k-parameter random Qwen2 model, loadable by path like a real one."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def roadmap_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~137 short pairs (roadmap bullets and goals), each with its source passage."""
    pairs, _ = attach_context(roadmap_drafts(ROADMAP), None, 1)
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    write_pairs(path, dedupe(pairs)[0])
    return path


@dataclass
class TrainedRun:
    result: TrainResult
    out: Path
    base: Path
    data: Path


@pytest.fixture(scope="session")
def trained(
    tiny_model: Path, roadmap_pairs: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrainedRun:
    """One LoRA run of TEST_CONFIG (checkpoint at step 20, merged weights written)."""
    out = tmp_path_factory.mktemp("run") / "adapter"
    with one_thread():  # session fixtures start before the module-scoped autouse one
        result = train(
            TEST_CONFIG,
            base=str(tiny_model),
            data=roadmap_pairs,
            out=out,
            merge=True,
            progress=False,
        )
    return TrainedRun(result, out, tiny_model, roadmap_pairs)
