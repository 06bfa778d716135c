"""`assistant quiz` and `assistant progress`: the study coach in the terminal.

The terminal learner is ``cli:<user>`` (the login name, or ``--learner``); cards and
progress live in the ledger's database like the HTTP learners'.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Any

import click

from assistant.cli.common import emit, settings_with

if TYPE_CHECKING:
    from assistant.coach import Bank, StudyCoach

LEARNER_HELP = "Whose cards (default: your login name)."


def _open(learner: str | None) -> tuple[StudyCoach, Bank, str]:
    from assistant.factory import make_coach, make_embedder, make_retriever
    from assistant.searcher import IndexSearcher

    s = settings_with()
    embedder = make_embedder(s)
    searcher = IndexSearcher(embedder, make_retriever(s), index_dir=s.index_dir)
    searcher.reload()
    snap = searcher.snapshot  # IndexNotBuiltError: a one-line "run assistant index build"
    coach = make_coach(s, embedder)
    click.get_current_context().call_on_close(coach.close)  # its database pool, at the end
    who = f"cli:{learner or getpass.getuser()}"
    return coach, coach.bank(snap.version, snap.chunks, snap.quizzes), who


@click.command()
@click.option("--phase", type=click.IntRange(1, 9), help="Only this roadmap phase.")
@click.option("--topic", help="Only this topic (a heading of the notes).")
@click.option("-n", "n", default=5, show_default=True, type=click.IntRange(1, 20))
@click.option("--learner", help=LEARNER_HELP)
def quiz(phase: int | None, topic: str | None, n: int, learner: str | None) -> None:
    """Answer quiz questions in the terminal; each is graded and explained at once.

    Example: assistant quiz --phase 5 -n 3
    """
    from rich.console import Console

    coach, bank, who = _open(learner)
    out = Console()
    right = 0
    for i in range(n):
        # One question per quiz: graded right away, and the next one is the most due.
        made = coach.create_quiz(who, bank, phase=phase, topic=topic, n=1)
        q = made["questions"][0]
        out.rule(f"{i + 1}/{n} · phase {q['phase']} · {q['topic']}")
        out.print(q["prompt"], markup=False, highlight=False)
        for j, option in enumerate(q.get("options") or [], start=1):
            out.print(f"  {j}. {option}", markup=False, highlight=False)
        answer = click.prompt("your answer", default="", show_default=False)
        res = coach.answer_quiz(who, made["quiz_id"], [{"id": q["id"], "answer": answer}], bank)
        r = res["results"][0]
        right += bool(r["correct"])
        verdict = "[green]correct[/green]" if r["correct"] else "[red]not quite[/red]"
        out.print(f"{verdict} (score {r['score']:.2f}) · expected: ", end="")
        out.print(r["expected"], markup=False, highlight=False)
        cite = r["citation"]
        out.print(
            f"[dim]{cite.get('source', '')} > {cite.get('section', '')}[/dim]", highlight=False
        )
    out.rule(f"{right} of {n} right")


@click.command()
@click.option("--learner", help=LEARNER_HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def progress(learner: str | None, as_json: bool) -> None:
    """Show mastery per roadmap phase and what to study next.

    Example: assistant progress
    """
    coach, bank, who = _open(learner)
    data = {"phases": coach.progress(who, bank), "next": coach.next_step(who, bank)}
    emit(data, as_json, progress_table)


def progress_table(d: dict[str, Any]) -> str:
    head = f"{'phase':<44} {'mastery':>8} {'topics':>8} {'cards':>6} {'due':>5} {'asked':>6}"
    lines = [head, "-" * len(head)]
    for p in d["phases"]:
        name = f"{p['phase']}. {p['title']}"[:44]
        topics = f"{p['topics_seen']}/{p['topics_total']}"
        lines.append(
            f"{name:<44} {p['mastery']:>8.0%} {topics:>8} {p['cards']:>6} {p['due']:>5} "
            f"{p['questions_asked']:>6}"
        )
    nxt = d["next"]
    lines.append("")
    lines.append(f"next: {nxt['reason']}")
    return "\n".join(lines)
