"""The real bundled model: Gemma 3 270M (the `local` extra) with the shipped LoRA adapter.

Loads the dequantised GGUF (cached after the first load), applies
finetune/adapters/gemma-3-270m-roadmap and answers a question about a topic the adapter
was never trained on. Measured on 2 busy CPU cores: under 2 minutes when the dequantised
weights are cached (the very first load dequantises the GGUF, about a minute on idle cores).
Measured: 76 s (pytest) with the cached weights, 2 CPU cores shared by ~8 other jobs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.prompts import build_messages
from assistant.protocols import GenerationRequest
from assistant.types import Generation
from finetune.data import make_chunk
from finetune.split import is_heldout

ADAPTER = Path(__file__).resolve().parents[2] / "finetune" / "adapters" / "gemma-3-270m-roadmap"
TOPIC = "Hash maps"  # held out: sha256("hash maps") % 5 == 0
PASSAGES = [
    make_chunk(
        "Core idea. A hash map stores key-value pairs. A hash function turns each key into "
        "an integer that picks a slot in an array, so insert, lookup and delete take O(1) "
        "time on average. Collisions are resolved by chaining or open addressing.",
        source="notes/phase-2-cs-fundamentals.md",
        title="Phase 2: Computer Science Fundamentals",
        section=TOPIC,
    ),
    make_chunk(
        "Core idea. Docker packages an application with its dependencies into an image.",
        source="notes/phase-9-mlops.md",
        title="Phase 9: MLOps",
        section="Docker",
    ),
]


@pytest.mark.slow
def test_the_shipped_adapter_answers_a_heldout_question_with_a_citation() -> None:
    from assistant.generation.local import LocalGenerator

    assert is_heldout(TOPIC)
    assert (ADAPTER / "adapter_config.json").is_file(), "the shipped adapter is missing"
    generator = LocalGenerator("gemma-3-270m", adapter=ADAPTER, device="cpu", max_new_tokens=96)
    question = "What is a hash map?"
    request = GenerationRequest(
        question, PASSAGES, build_messages(question, PASSAGES), max_tokens=96, temperature=0.0
    )
    parts = list(generator.stream(request))
    final = parts[-1]
    assert isinstance(final, Generation) and final.usage.exact
    assert final.usage.prompt_tokens == generator.count_tokens(
        generator.tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
    )
    cites = [int(n) for n in re.findall(r"\[(\d+)\]", final.text)]
    assert cites and all(1 <= n <= len(PASSAGES) for n in cites), final.text
    assert "hash" in final.text.lower(), final.text


@pytest.mark.slow
def test_llama_cpp_serves_the_same_adapter_exported_to_gguf() -> None:
    from assistant.generation.llamacpp import LlamaCppGenerator, make_local_generator

    generator = make_local_generator("gemma-3-270m", ADAPTER, "auto", 96, None)
    assert isinstance(generator, LlamaCppGenerator)
    question = "What is a hash map?"
    request = GenerationRequest(
        question, PASSAGES, build_messages(question, PASSAGES), max_tokens=96, temperature=0.0
    )
    *deltas, final = list(generator.stream(request))
    assert isinstance(final, Generation) and final.usage.exact and final.usage.prompt_tokens > 50
    # Deltas trail the model; a loop the stop rules cut may have been partly shown.
    assert "".join(str(d) for d in deltas).strip().startswith(final.text)
    cites = [int(n) for n in re.findall(r"\[(\d+)\]", final.text)]
    assert cites and all(1 <= n <= len(PASSAGES) for n in cites), final.text
