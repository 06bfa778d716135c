"""`assistant eval`: retrieval and answer quality on the project's question set, and
learners' ratings of answers (feedback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import emit, on_terminal, settings_with

if TYPE_CHECKING:
    from assistant.settings import Settings


@click.command("eval")
@click.option("--qa", type=click.Path(path_type=Path), help="Question set (JSONL file or folder).")
@click.option("--k", default=5, show_default=True, help="Cut-off for recall@k and hit_rate@k.")
@click.option(
    "--answers/--no-answers", default=True, show_default=True, help="Also score /v1/ask answers."
)
@click.option(
    "--answerers",
    help="Compare answerers on held-out answers instead: e.g. extractive,base,finetuned.",
)
@click.option("--answer-set", type=click.Path(path_type=Path), help="Held-out answers (JSONL).")
@click.option("--base", "base_model", default="gemma-3-270m", show_default=True, help="Base model.")
@click.option("--adapter", type=click.Path(path_type=Path), help="Adapter of 'finetuned'.")
@click.option("--limit", type=int, help="About N questions, spread over the set (a quick look).")
@click.option(
    "--feedback-only", is_flag=True, help="Only the summary of learners' ratings (no scoring)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--progress", is_flag=True, help="Progress bar on stderr even when it is not a terminal."
)
def eval_cmd(
    qa: Path | None,
    k: int,
    answers: bool,
    answerers: str | None,
    answer_set: Path | None,
    base_model: str,
    adapter: Path | None,
    limit: int | None,
    feedback_only: bool,
    as_json: bool,
    progress: bool,
) -> None:
    """Score retrieval (recall@k, hit_rate@k, MRR, nDCG@10) and answers (citations, faithfulness).

    Example: assistant eval --k 5 --json
    Example: assistant eval --answerers extractive,base,finetuned --limit 20
    Example: assistant eval --feedback-only
    """
    if answerers:
        from assistant.cli.answers import compare_answerers

        compare_answerers(answerers, answer_set, base_model, adapter, limit, as_json)
        return
    from assistant.evaluation import evaluate_answers, evaluate_retrieval, load_questions
    from assistant.factory import make_assistant

    s = settings_with(semantic_cache=False)
    if feedback_only:
        emit({"feedback": feedback_summary(s)}, as_json, eval_summary)
        return
    questions = load_questions(qa or s.corpus_dir / "eval")
    a = make_assistant(s)
    bar = progress_bar(len(questions) * (2 if answers else 1), progress or on_terminal())
    try:
        data: dict[str, Any] = {
            "retrieval": evaluate_retrieval(a, questions, k=k, progress=bar.update)
        }
        if answers:
            data["answers"] = evaluate_answers(a, questions, progress=bar.update)
    finally:
        bar.close()
        a.close()
    data["feedback"] = feedback_summary(s)
    emit(data, as_json, eval_summary)


def feedback_summary(s: Settings) -> dict[str, Any]:
    """Learners' ratings in the ledger's database: counts, share up, recent down-votes."""
    from assistant.factory import make_feedback

    store = make_feedback(s)
    try:
        return store.summary()
    finally:
        store.close()


def progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr over every question scored (a disabled one prints nothing)."""
    from tqdm import tqdm

    return tqdm(total=total, desc="eval", unit="question", disable=not enabled, file=sys.stderr)


def eval_summary(d: dict[str, Any]) -> str:
    lines: list[str] = []
    if "retrieval" in d:
        r = d["retrieval"]
        lines += [
            f"questions: {r['questions']}",
            "overall: " + ", ".join(f"{k} {v:.3f}" for k, v in r["overall"].items()),
        ]
        lines += [
            f"phase {p}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items())
            for p, m in r["by_phase"].items()
        ]
    if "answers" in d:
        lines.append(
            "answers: "
            + ", ".join(f"{k} {v:.3f}" for k, v in d["answers"].items() if isinstance(v, float))
        )
    if "feedback" in d:
        lines += feedback_lines(d["feedback"])
    return "\n".join(lines)


def feedback_lines(f: dict[str, Any]) -> list[str]:
    if not f["ratings"]:
        return ["feedback: no ratings yet"]
    lines = [
        f"feedback: {f['ratings']} ratings, {f['up']} up, {f['down']} down "
        f"({100 * f['up_rate']:.1f}% up)"
    ]
    if f["recent_down"]:
        lines.append("recent down-votes:")
    for r in f["recent_down"]:
        question = r["question"] or f"(request {r['request_id']}, text not kept)"
        comment = f" | comment: {r['comment']}" if r["comment"] else ""
        lines.append(f"  {r['updated_at'][:16]}  {question}{comment}")
    return lines
