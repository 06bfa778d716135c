"""Every answerer on the same held-out questions: correctness, faithfulness, citations, speed.

    assistant eval --answers --answerers extractive,base,finetuned --json

Each question gets the passages the service would give it (same retriever, same passage
budget), so answerers differ only in how they write. Questions come from
``corpus/eval/answers-heldout.jsonl``: topics no adapter was trained on (see
``finetune/split.py``) plus questions the material does not cover. Scores are defined in
``assistant.answer_scores``; speed is measured on this machine, one question at a time:
time to first token (TTFT), tokens per second after it, and the time a 100-token answer
would take (TTFT + 100 / decode rate).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer_scores import (
    SUPPORT_THRESHOLD,
    citations_valid,
    faithfulness,
    is_refusal,
    rouge_l,
    token_f1,
)
from assistant.errors import AssistantError, BadInputError
from assistant.prompts import build_messages
from assistant.protocols import GenerationRequest, Generator
from assistant.types import NOT_COVERED_SENTENCE, Chunk, Generation

NOT_COVERED = NOT_COVERED_SENTENCE
logger = logging.getLogger(__name__)
# retrieve(question) -> the passages the service would put in the prompt, in order; empty
# when none is relevant enough (the service then refuses without calling the model).
PassageFn = Callable[[str], Sequence[Chunk]]
USABLE_TTFT_S = 2.0  # first token within 2 s ...
USABLE_100_TOKENS_S = 10.0  # ... and a 100-token answer within 10 s, on this machine


@dataclass(frozen=True)
class AnswerCase:
    """A held-out question and its reference answer."""

    id: str
    question: str
    reference: str
    in_scope: bool
    topic: str | None = None


def load_cases(path: Path) -> list[AnswerCase]:
    if not path.is_file():
        raise BadInputError(f"no answer set at {path}: expected JSONL rows with question/reference")
    cases = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(AnswerCase(str(row.get("id", lineno)), row["question"], row["reference"],
                                    bool(row.get("in_scope", True)), row.get("topic")))  # fmt: skip
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path} line {lineno}: not an answer row ({exc})") from exc
    if not cases:
        raise BadInputError(f"{path} holds no questions")
    return cases


def answer_once(generator: Generator, request: GenerationRequest) -> dict[str, Any]:
    """Stream one answer; its text, token count, TTFT and total time (seconds)."""
    started = time.perf_counter()
    first: float | None = None
    final: Generation | None = None
    error = None
    try:
        for item in generator.stream(request):
            if isinstance(item, Generation):
                final = item
            elif item and first is None:
                first = time.perf_counter() - started
    except AssistantError as exc:  # counted as a failed answer, not a crash of the eval
        error = str(exc)
    total = time.perf_counter() - started
    text = final.text if final else ""
    n = final.usage.completion_tokens if final else 0
    return {"text": text, "tokens": n, "ttft_s": first if first is not None else total,
            "total_s": total, "error": error}  # fmt: skip


def score_case(case: AnswerCase, passages: Sequence[Chunk], out: dict[str, Any]) -> dict[str, Any]:
    text, texts = out["text"], [c.text for c in passages]
    refused = is_refusal(text)
    row = {**out, "id": case.id, "in_scope": case.in_scope, "refused": refused,
           "f1": token_f1(text, case.reference), "rouge_l": rouge_l(text, case.reference),
           "citations_valid": citations_valid(text, len(passages)),
           "words": len(text.split())}  # fmt: skip
    if case.in_scope and not refused:
        row["faithfulness"] = faithfulness(text, texts)
    return row


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    inside = [r for r in rows if r["in_scope"]]
    outside = [r for r in rows if not r["in_scope"]]
    decode = [(r["tokens"] - 1) / (r["total_s"] - r["ttft_s"]) for r in rows
              if r["tokens"] > 1 and r["total_s"] > r["ttft_s"]]  # fmt: skip
    ttft = statistics.median([r["ttft_s"] for r in rows]) if rows else 0.0
    rate = statistics.median(decode) if decode else None
    t100 = ttft + 100 / rate if rate else ttft
    return {
        "questions": len(rows),
        "f1": _mean([r["f1"] for r in inside]),
        "rouge_l": _mean([r["rouge_l"] for r in inside]),
        "faithfulness": _mean([r["faithfulness"] for r in inside if "faithfulness" in r]),
        "citation_validity": _mean([float(r["citations_valid"]) for r in rows]),
        "refusal_rate_out_of_scope": _mean([float(r["refused"]) for r in outside]),
        "false_refusal_rate": _mean([float(r["refused"]) for r in inside]),
        "answer_words": _mean([r["words"] for r in inside]),
        "ttft_s_median": round(ttft, 3),
        "tokens_per_s_median": round(rate, 1) if rate else None,
        "t100_s": round(t100, 2),
        "usable_speed": ttft <= USABLE_TTFT_S and t100 <= USABLE_100_TOKENS_S,
        "errors": sum(1 for r in rows if r["error"]),
    }


def evaluate_answerers(
    answerers: dict[str, Callable[[], Generator]],
    cases: Sequence[AnswerCase],
    passages_for: PassageFn,
    *,
    max_tokens: int = 160,
) -> dict[str, Any]:
    """Run every answerer (built one at a time, so only one model is in memory) on every case."""
    prompts = [(c, list(passages_for(c.question))) for c in cases]
    result: dict[str, Any] = {"questions": len(cases), "in_scope": sum(c.in_scope for c in cases),
                              "support_threshold": SUPPORT_THRESHOLD, "max_tokens": max_tokens,
                              "answerers": {}, "rows": {}}  # fmt: skip
    for name, build in answerers.items():
        t0 = time.perf_counter()
        generator = build()
        load_s = time.perf_counter() - t0
        rows = []
        for case, passages in prompts:
            request = GenerationRequest(case.question, passages, build_messages(case.question, passages),
                                        max_tokens=max_tokens, temperature=0.0)  # fmt: skip
            # As the service does: no relevant passage, no model call, the refusal.
            out = answer_once(generator, request) if passages else {
                "text": NOT_COVERED, "tokens": 0, "ttft_s": 0.0, "total_s": 0.0, "error": None}  # fmt: skip
            rows.append(score_case(case, passages, out))
            logger.info(
                "%s: %d/%d answered in %.1fs", name, len(rows), len(prompts), out["total_s"]
            )
        result["answerers"][name] = {"model": getattr(generator, "model", name),
                                     "load_s": round(load_s, 1), **summarise(rows)}  # fmt: skip
        result["rows"][name] = rows
        del generator
    return result


COLUMNS = (
    ("f1", "token F1"), ("rouge_l", "ROUGE-L"), ("faithfulness", "faithfulness"),
    ("citation_validity", "valid citations"), ("refusal_rate_out_of_scope", "refusals (out of scope)"),
    ("false_refusal_rate", "refusals (in scope)"), ("answer_words", "words"),
    ("ttft_s_median", "TTFT s"), ("tokens_per_s_median", "tokens/s"), ("t100_s", "100 tokens s"),
)  # fmt: skip


def markdown_table(result: dict[str, Any]) -> str:
    head = "| answerer | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, s in result["answerers"].items():
        cells = ["-" if s[k] is None else (f"{s[k]:.3f}" if isinstance(s[k], float) else str(s[k]))
                 for k, _ in COLUMNS]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
