"""Randomly initialised Qwen2-style causal LMs with a locally trained tokenizer.

For smoke tests and throughput benchmarks where no real model can be downloaded:
the folder written here loads with ``AutoTokenizer`` / ``AutoModelForCausalLM`` by
path, exactly like a real checkpoint, chat template included.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

# ChatML, as Qwen2 uses it; <|im_end|> ends every turn and is the model's eos.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Model shapes. "0.5b" follows Qwen2-0.5B (494M parameters with its 151,936-row vocab).
SHAPES: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 1024,
        "tie_word_embeddings": True,
        # Wider than the usual 0.02: with a frozen RMSNorm and a frozen tied head, small
        # weights cap every logit near 1, and no LoRA update could make a sharp prediction.
        "initializer_range": 0.1,
    },
    "0.5b": {
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": True,
        "vocab_size": 151_936,
        "rope_theta": 1_000_000.0,
    },
}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> Any:
    """A byte-level BPE tokenizer (no unknown tokens) with the ChatML template set."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_random_causal_lm(
    out_dir: Path,
    texts: Iterable[str],
    *,
    size: Literal["tiny", "0.5b"] = "tiny",
    vocab_size: int = 2000,
    seed: int = 0,
    dtype: Any = None,
) -> Path:
    """Write tokenizer + randomly initialised Qwen2 model to ``out_dir``; return it."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = train_tokenizer(texts, vocab_size)
    shape = dict(SHAPES[size])
    # The embedding table may be larger than the tokenizer (as in real Qwen2 checkpoints).
    shape["vocab_size"] = max(shape.get("vocab_size", 0), len(tokenizer))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    config = Qwen2Config(**shape, eos_token_id=eos, pad_token_id=pad, bos_token_id=None)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if dtype is not None:
        model = model.to(dtype)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
