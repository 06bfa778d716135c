"""`assistant eval --answerers ...`: wire the answerers and print the comparison."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from assistant.answer_eval import evaluate_answerers, load_cases, markdown_table
from assistant.errors import BadInputError
from assistant.protocols import Generator
from assistant.settings import Settings, get_settings
from assistant.types import Chunk

DEFAULT_ANSWER_SET = Path("corpus/eval/answers-heldout.jsonl")
SHIPPED_ADAPTER = Path("finetune/adapters/gemma-3-270m-roadmap")


def relevant_passages(settings: Settings) -> tuple[Callable[[str], list[Chunk]], str]:
    """The service's passages for a question: hybrid search, its relevance gate, its budget."""
    from assistant.factory import make_embedder, make_retriever
    from assistant.grounding import Grounding
    from assistant.prompts import fit_passages
    from assistant.searcher import IndexSearcher, relevant_hits

    embedder = make_embedder(settings)
    searcher = IndexSearcher(embedder, make_retriever(settings), index_dir=settings.index_dir)
    searcher.reload()
    snapshot = searcher.snapshot
    grounding = Grounding(embedder)

    def passages_for(question: str) -> list[Chunk]:
        hits = searcher.retrieve(snapshot, searcher.query(question), settings.top_k)
        relevant = relevant_hits(hits, settings.min_score)  # the service's cut
        relevant = grounding.ground(snapshot, question, relevant, settings.top_k)
        return fit_passages(
            [h.chunk for h in relevant], settings.context_tokens, embedder.count_tokens
        )

    return passages_for, snapshot.version


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
    from assistant.generation.llamacpp import make_local_generator

    settings = get_settings()
    cases = load_cases(answer_set or DEFAULT_ANSWER_SET)
    if limit:  # every n-th question, so in-scope and out-of-scope ones both stay in
        cases = cases[:: max(1, len(cases) // limit)][:limit]
    passages_for, version = relevant_passages(settings)
    embedder = make_embedder(settings)
    budget = settings.llm_time_budget_s
    engine, limit_tokens = settings.llm_engine, settings.llm_max_tokens
    builders: dict[str, Callable[[], Generator]] = {
        "extractive": lambda: ExtractiveGenerator(embedder),
        "base": lambda: make_local_generator(base, None, engine, limit_tokens, budget),
        "finetuned": lambda: make_local_generator(
            base, adapter or SHIPPED_ADAPTER, engine, limit_tokens, budget
        ),
    }
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in builders]
    if unknown:
        raise BadInputError(f"unknown answerer {unknown[0]!r} (known: {', '.join(builders)})")
    result = evaluate_answerers(
        {n: builders[n] for n in chosen},
        cases,
        passages_for,
        max_tokens=settings.llm_max_tokens,
    )
    result["index_version"] = version
    result["top_k"], result["context_tokens"] = settings.top_k, settings.context_tokens
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(markdown_table(result))
