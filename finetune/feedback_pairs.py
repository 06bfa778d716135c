"""Q&A pairs from learners' up-voted answers (``assistant finetune export-feedback``).

A rating is stored with the answered turn when the service still remembered it (see
``assistant.feedback``): the standalone question, the answer text and the passages
[1..n] it was written from, as the serving prompt numbered them. Each such up-voted
answer becomes one pair in the row format of ``finetune.data`` (origin ``feedback``);
ratings without that text, or whose passages left the index before the rating, are
counted and skipped. The newest rating of a question wins.

    assistant finetune export-feedback --out var/finetune/feedback_pairs.jsonl
    assistant finetune train --base gemma-3-270m --data var/finetune/feedback_pairs.jsonl ...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from assistant.feedback import FeedbackRow
from finetune.data import QAPair, dedupe, parse_row


@dataclass(slots=True)
class FeedbackReport:
    """What the export made of the up-voted answers."""

    rated_up: int = 0
    pairs: int = 0
    without_text: int = 0  # rated after the service forgot the turn
    without_passages: int = 0  # a cited passage had left the index when it was rated
    invalid: list[str] = field(default_factory=list)  # "request id: why"
    duplicates_dropped: int = 0


def feedback_pairs(rows: Iterable[FeedbackRow]) -> tuple[list[QAPair], FeedbackReport]:
    """Pairs from up-voted rows (newest first, as ``SqlFeedbackStore.rated`` gives them)."""
    report = FeedbackReport()
    pairs: list[QAPair] = []
    for row in rows:
        if row.rating != "up":
            continue
        report.rated_up += 1
        if not row.question or not row.answer:
            report.without_text += 1
            continue
        if row.context is None:
            report.without_passages += 1
            continue
        try:
            pair = parse_row(
                {
                    "question": row.question,
                    "answer": row.answer,
                    "context": row.context,
                    "origin": "feedback",
                }
            )
        except ValueError as exc:
            report.invalid.append(f"{row.request_id}: {exc}")
            continue
        pairs.append(pair)
    kept, report.duplicates_dropped = dedupe(pairs)
    report.pairs = len(kept)
    return kept, report
