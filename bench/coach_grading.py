"""Agreement of the short-answer grader with hand labels; prints JSON.

    python bench/coach_grading.py            # the shipped threshold and a sweep around it

The labelled set (tests/assistant/coach/data/short_answers.jsonl) holds three answers per
question, written and labelled by hand: a full answer, a partial but right one, a wrong one.
The questions come from the real corpus's bank, matched by their stable ids.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.coach import AnswerGrader, build_bank, extract_topics  # noqa: E402
from assistant.coach.grading import SHORT_THRESHOLD  # noqa: E402
from assistant.embeddings import SentenceTransformerEmbedder  # noqa: E402
from tests.assistant.coach.corpus_chunks import corpus_chunks  # noqa: E402

LABELS = REPO / "tests/assistant/coach/data/short_answers.jsonl"


def agreement(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    tp = sum(1 for pred, gold in pairs if pred and gold)
    fp = sum(1 for pred, gold in pairs if pred and not gold)
    fn = sum(1 for pred, gold in pairs if not pred and gold)
    agree = sum(1 for pred, gold in pairs if pred == gold)
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
        "accuracy": round(agree / len(pairs), 3),
    }


def main() -> None:
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    bank = {q.id: q for q in build_bank(extract_topics(corpus_chunks(embedder)))}
    rows = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]
    missing = [r["question_id"] for r in rows if r["question_id"] not in bank]
    grader = AnswerGrader(embedder)
    scored = [
        (grader.grade(bank[r["question_id"]], r["answer"]).score, r["correct"])
        for r in rows
        if r["question_id"] in bank
    ]
    sweep = {
        str(t): agreement([(s >= t, gold) for s, gold in scored])
        for t in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
    }
    print(
        json.dumps(
            {
                "labelled": len(rows),
                "graded": len(scored),
                "missing_questions": missing,
                "threshold": SHORT_THRESHOLD,
                "at_threshold": sweep.get(str(SHORT_THRESHOLD))
                or agreement([(s >= SHORT_THRESHOLD, g) for s, g in scored]),
                "sweep": sweep,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
