"""`assistant eval --answerers ...`: wire the answerers and print the comparison (CLI glue)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from assistant.answer_eval import evaluate_answerers, load_cases, markdown_table
from assistant.errors import BadInputError
from assistant.protocols import Generator
from assistant.settings import get_settings

DEFAULT_ANSWER_SET = Path("corpus/eval/answers-heldout.jsonl")
SHIPPED_ADAPTER = Path("finetune/adapters/gemma-3-270m-roadmap")


def compare_answerers(
    names: str,
    answer_set: Path | None,
    base: str,
    adapter: Path | None,
    limit: int | None,
    as_json: bool,
) -> None:
    from assistant.factory import make_embedder
    from assistant.generation.extractive import ExtractiveGenerator
    from assistant.generation.local import LocalGenerator
    from finetune.cli import index_retriever

    settings = get_settings()
    cases = load_cases(answer_set or DEFAULT_ANSWER_SET)[:limit]
    retrieve, version = index_retriever(None)
    embedder = make_embedder(settings)
    budget = settings.llm_time_budget_s
    builders: dict[str, Callable[[], Generator]] = {
        "extractive": lambda: ExtractiveGenerator(embedder),
        "base": lambda: LocalGenerator(base, time_budget_s=budget),
        "finetuned": lambda: LocalGenerator(
            base, adapter=adapter or SHIPPED_ADAPTER, time_budget_s=budget
        ),
    }
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in builders]
    if unknown:
        raise BadInputError(f"unknown answerer {unknown[0]!r} (known: {', '.join(builders)})")
    result = evaluate_answerers(
        {n: builders[n] for n in chosen},
        cases,
        lambda q: retrieve(q, settings.top_k),
        max_tokens=settings.llm_max_tokens,
    )
    result["index_version"] = version
    result["top_k"], result["context_tokens"] = settings.top_k, settings.context_tokens
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(markdown_table(result))
