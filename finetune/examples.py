"""Q&A pairs as token ids in the serving prompt format, with loss on the answer only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.errors import BadInputError
from assistant.generation.local import encode_text, render_chat
from finetune.data import QAPair

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label value that cross-entropy skips: prompt tokens and padding


@dataclass(slots=True)
class Example:
    """One training sequence: prompt then answer ids; labels are IGNORE_INDEX on the prompt."""

    input_ids: list[int]
    labels: list[int]
    prompt_tokens: int


def prompt_and_completion(tokenizer: Any, pair: QAPair) -> tuple[str, str]:
    """The exact text the service sends for this pair, and the answer text that follows it.

    Both come from ``render_chat`` over ``assistant.prompts.build_messages``, the same
    two functions the local backend uses at serving time.
    """
    messages = pair.messages()
    prompt = render_chat(tokenizer, messages, add_generation_prompt=True)
    answered = [*messages, {"role": "assistant", "content": pair.answer}]
    full = render_chat(tokenizer, answered, add_generation_prompt=False)
    eos = tokenizer.eos_token or ""
    if full.startswith(prompt):
        completion = full[len(prompt) :]
        # Stop at the end-of-turn token: what follows it (a newline) is not worth learning.
        cut = completion.rfind(eos) if eos else -1
        if cut >= 0:
            completion = completion[: cut + len(eos)]
    else:
        # Templates that rewrite earlier turns once an answer follows (reasoning models).
        completion = pair.answer + eos
    return prompt, completion


def encode_pairs(tokenizer: Any, pairs: Sequence[QAPair], max_seq_len: int) -> list[Example]:
    """Tokenise every pair; a prompt that does not fit ``max_seq_len`` is an error."""
    examples: list[Example] = []
    too_long: list[tuple[int, QAPair]] = []
    truncated = 0
    for pair in pairs:
        prompt, completion = prompt_and_completion(tokenizer, pair)
        # Prompt and answer are tokenised apart, as at serving time the prompt is.
        p_ids = encode_text(tokenizer, prompt)
        c_ids = encode_text(tokenizer, completion)
        if len(p_ids) + 1 > max_seq_len:  # +1: at least one answer token to learn
            too_long.append((len(p_ids), pair))
            continue
        ids = (p_ids + c_ids)[:max_seq_len]
        truncated += len(p_ids) + len(c_ids) > max_seq_len
        labels = ([IGNORE_INDEX] * len(p_ids) + c_ids)[:max_seq_len]
        examples.append(Example(ids, labels, len(p_ids)))
    if too_long:
        longest, pair = max(too_long, key=lambda t: t[0])
        raise BadInputError(
            f"max_seq_len={max_seq_len} is too small for the prompt: {len(too_long)} of "
            f"{len(pairs)} pairs have longer prompts (the longest is {longest} tokens, for "
            f"{pair.question!r}); use --max-seq-len {longest + 128} or more"
        )
    if truncated:
        logger.warning("%d answers were cut to max_seq_len=%d tokens", truncated, max_seq_len)
    return examples


def collate(examples: Sequence[Example], pad_id: int, device: Any) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask and labels, each (B, T)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


class BatchOrder:
    """Which examples make micro-batch ``m``: a seeded shuffle per epoch, endlessly.

    A pure function of (seed, m), so a resumed run draws exactly the batches the
    uninterrupted run would have drawn.
    """

    def __init__(self, n_examples: int, batch_size: int, seed: int) -> None:
        self.n = n_examples
        self.batch_size = batch_size
        self.seed = seed
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        import torch

        if epoch not in self._perms:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            self._perms[epoch] = torch.randperm(self.n, generator=gen).tolist()
        return self._perms[epoch]

    def micro_batch(self, m: int) -> list[int]:
        first = m * self.batch_size
        return [self._perm(p // self.n)[p % self.n] for p in range(first, first + self.batch_size)]
