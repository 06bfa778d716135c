"""`assistant finetune data|export-feedback|train`: Q&A pairs from the corpus or from
learners' up-voted answers; train a LoRA adapter."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import ErrorReportingGroup, on_terminal, settings_with
from assistant.errors import BadInputError

if TYPE_CHECKING:
    from finetune import DataReport

DEFAULT_PAIRS = Path("var/finetune/pairs.jsonl")
DEFAULT_FEEDBACK_PAIRS = Path("var/finetune/feedback_pairs.jsonl")


@click.group(cls=ErrorReportingGroup)
def finetune() -> None:
    """Fine-tune a local model with LoRA on Q&A pairs made from the corpus or from feedback."""


def _data_summary(out: Path, report: DataReport, version: str | None) -> str:
    origins = ", ".join(f"{k} {v}" for k, v in sorted(report.by_origin.items()))
    if report.retrieval:
        passages = (
            f"up to {report.passages_per_pair} retrieved passages per pair (index {version}); "
            f"{report.gold_inserted} pairs got their source passage first because retrieval "
            "missed it"
        )
    else:
        passages = "each pair carries only its source passage (--no-retrieval)"
    return "\n".join(
        [
            f"wrote {report.total} pairs to {out}",
            f"  by origin: {origins}",
            f"  duplicates dropped: {report.duplicates_dropped}",
            f"  passages: {passages}",
        ]
    )


@finetune.command("data")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder (default ./corpus).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="JSONL file to write.",
)
@click.option(
    "--curated",
    type=click.Path(path_type=Path),
    help="Hand-written pairs merged in first (default: the ones the project keeps).",
)
@click.option("--no-curated", is_flag=True, help="Leave the curated pairs out.")
@click.option("--k", type=int, help="Passages retrieved per question (default ASSISTANT_TOP_K).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index to retrieve from.")
@click.option("--no-retrieval", is_flag=True, help="Give each pair only its source passage.")
@click.option(
    "--recipe",
    type=click.Choice(["classic", "topics"]),
    default="classic",
    show_default=True,
    help="topics: per-topic, comparison, next-phase and refusal pairs, held-out topics split off.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def data_command(
    corpus: Path | None,
    out: Path,
    curated: Path | None,
    no_curated: bool,
    k: int | None,
    index_dir: Path | None,
    no_retrieval: bool,
    recipe: str,
    as_json: bool,
) -> None:
    """Build Q&A pairs from the roadmap and notes, with retrieved passages, plus curated pairs.

    \b
    Example:
      assistant finetune data --out var/finetune/pairs.jsonl --k 3
    """
    from assistant.cli.wiring import index_retriever
    from finetune import CURATED_PAIRS, build_pairs, write_pairs

    settings = settings_with(index_dir=index_dir)
    k = settings.top_k if k is None else k
    if k <= 0:
        raise BadInputError(f"--k must be > 0, got {k}")
    retrieve, version = (None, None) if no_retrieval else index_retriever(settings)
    if recipe == "topics":
        from finetune.manifest import write_dataset

        summary = write_dataset(corpus or settings.corpus_dir, out, retrieve, k, version,
                                None if no_curated else curated)  # fmt: skip
        click.echo(json.dumps(summary) if as_json else summary["text"])
        return
    pairs, report = build_pairs(
        corpus or settings.corpus_dir,
        retrieve=retrieve,
        k=k,
        curated=None if no_curated else (curated or CURATED_PAIRS),
    )
    write_pairs(out, pairs)
    if as_json:
        click.echo(json.dumps({"out": str(out), "index_version": version, **asdict(report)}))
    else:
        click.echo(_data_summary(out, report, version))


@finetune.command("export-feedback")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_FEEDBACK_PAIRS,
    show_default=True,
    help="JSONL file to write.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def export_feedback_command(out: Path, as_json: bool) -> None:
    """Write learners' up-voted answers as Q&A pairs (the format `finetune train` reads).

    \b
    Example:
      assistant finetune export-feedback --out var/finetune/feedback_pairs.jsonl
    """
    from assistant.factory import make_feedback
    from finetune import write_pairs
    from finetune.feedback_pairs import feedback_pairs

    store = make_feedback(settings_with())
    try:
        pairs, report = feedback_pairs(store.rated("up"))
    finally:
        store.close()
    write_pairs(out, pairs)
    if as_json:
        click.echo(json.dumps({"out": str(out), **asdict(report)}))
        return
    lines = [
        f"wrote {report.pairs} pairs to {out} from {report.rated_up} up-voted answers",
        f"  skipped: {report.without_text} without their text (rated after the service "
        f"forgot them), {report.without_passages} whose passages left the index, "
        f"{len(report.invalid)} invalid, {report.duplicates_dropped} duplicate questions",
    ]
    click.echo("\n".join(lines + [f"  invalid: {line}" for line in report.invalid]))


@finetune.command("train")
@click.option("--base", required=True, help="Base causal LM: gemma-3-270m (bundled), a local folder or a cached hub name.")  # fmt: skip
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path), help="JSONL Q&A pairs.")  # fmt: skip
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Adapter folder.")
@click.option("--resume", is_flag=True, help="Continue from <out>/checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an adapter already in --out.")
@click.option("--merge", is_flag=True, help="Also write merged full weights to <out>/merged.")
@click.option("--max-steps", type=int, help="Optimizer steps in total.")
@click.option("--batch-size", type=int, help="Examples per micro-batch.")
@click.option("--grad-accum", "grad_accum_steps", type=int, help="Micro-batches per step.")
@click.option("--lr", "learning_rate", type=float, help="Peak learning rate.")
@click.option("--lora-r", type=int, help="LoRA rank.")
@click.option("--lora-alpha", type=int, help="LoRA alpha (scale = alpha / r).")
@click.option("--lora-dropout", type=float, help="Dropout on the LoRA path.")
@click.option("--target-modules", help='"all-linear" or a comma list such as q_proj,v_proj.')
@click.option("--max-seq-len", type=int, help="Tokens per example (default: the model's context).")
@click.option("--max-minutes", type=float, help="Stop training after this many minutes.")
@click.option("--eval-fraction", type=float, help="Share of pairs held out for eval loss.")
@click.option("--eval-every", type=int, help="Steps between eval-loss points (0 = ends only).")
@click.option("--save-every", type=int, help="Steps between checkpoints (0 = none).")
@click.option("--seed", type=int, help="Seed for init, data order and split.")
@click.option("--device", help="cpu, cuda, cuda:1 (default: cuda when available).")
@click.option("--no-gradient-checkpointing", is_flag=True, help="Faster, more memory.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json.")
def train_command(
    base: str,
    data_path: Path,
    out: Path,
    resume: bool,
    overwrite: bool,
    merge: bool,
    no_gradient_checkpointing: bool,
    no_progress: bool,
    as_json: bool,
    target_modules: str | None,
    **overrides: Any,
) -> None:
    """Train a LoRA adapter on Q&A pairs, in the same RAG prompt format the service uses.

    \b
    Example:
      assistant finetune train --base Qwen/Qwen2.5-0.5B-Instruct \\
          --data var/finetune/pairs.jsonl --out var/finetune/qwen-lora
    """
    from dataclasses import replace

    from finetune import TrainConfig, train

    given = {k: v for k, v in overrides.items() if v is not None}
    if target_modules:
        names = [m.strip() for m in target_modules.split(",") if m.strip()]
        given["target_modules"] = names[0] if names == ["all-linear"] else names
    if no_gradient_checkpointing:
        given["gradient_checkpointing"] = False
    cfg = replace(TrainConfig(), **given)
    result = train(
        cfg,
        base=base,
        data=data_path,
        out=out,
        resume=resume,
        overwrite=overwrite,
        merge=merge,
        progress=not no_progress and on_terminal(),
    )
    r = result.report
    if as_json:
        click.echo(json.dumps(r.to_json()))
        return
    click.echo(
        "\n".join(
            [
                f"adapter written to {out} ({r.steps} steps, {r.train_seconds:.1f}s training)",
                f"  eval loss: {r.eval_loss_before:.4f} -> {r.eval_loss_after:.4f}",
                f"  trainable parameters: {r.trainable_params:,} of {r.total_params:,} "
                f"({100 * r.trainable_fraction:.3f}%)",
                f"  throughput: {r.tokens_per_s:,.0f} tokens/s on {r.device} ({r.dtype})",
                f"  report: {out / 'report.json'}, curve: {out / 'loss_curve.png'}",
                *([f"  merged weights: {r.merged_dir}"] if r.merged_dir else []),
                f"  serve it: ASSISTANT_LLM_BACKEND=local ASSISTANT_LLM_MODEL={base} "
                f"ASSISTANT_LLM_ADAPTER={out} assistant serve",
            ]
        )
    )
