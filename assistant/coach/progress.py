"""Progress per roadmap phase and the one "what next" recommendation that follows from it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant.coach.store import CardRow
from assistant.roadmap import Roadmap
from assistant.types import Chunk

if TYPE_CHECKING:
    from assistant.coach.coach import Bank

MASTERY = 0.8  # share of a phase's cards recalled at their last review that counts as mastered


def phase_progress(
    roadmap: Roadmap, bank: Bank, cards: list[CardRow], asked: dict[int, int], now: datetime
) -> list[dict[str, Any]]:
    """One row per roadmap phase; only cards of questions in the served bank count."""
    live = [c for c in cards if c.question_id in bank.questions]
    rows = []
    for number, phase in sorted(roadmap.phases.items()):
        mine = [c for c in live if c.phase == number]
        topics = bank.topics.get(number, [])
        seen = sorted({c.topic for c in mine})
        recalled = sum(1 for c in mine if c.last_correct)
        rows.append(
            {
                "phase": number,
                "title": phase.title,
                "topics_total": len(topics),
                "topics_seen": len(seen),
                "topics": [
                    {
                        "topic": t,
                        "seen": t in seen,
                        "mastery": _share([c for c in mine if c.topic == t]),
                    }
                    for t in topics
                ],
                "cards": len(mine),
                "due": sum(1 for c in mine if c.due <= now),
                "mastery": round(recalled / len(mine), 4) if mine else 0.0,
                "mastered": _mastered(mine, topics, seen),
                "questions_asked": asked.get(number, 0),
            }
        )
    return rows


def _share(cards: list[CardRow]) -> float | None:
    return round(sum(c.last_correct for c in cards) / len(cards), 4) if cards else None


def _mastered(cards: list[CardRow], topics: list[str], seen: list[str]) -> bool:
    """Every topic of the phase quizzed, and most cards recalled at their last review."""
    if not topics or set(topics) - set(seen):
        return False
    return sum(c.last_correct for c in cards) / len(cards) >= MASTERY


def roadmap_chunk(bank: Bank, phase: int) -> Chunk | None:
    """The roadmap's own passage of a phase (its goal, time and rules) to cite."""
    prefix = f"Phase {phase}:"
    best = [
        c
        for c in bank.chunks.values()
        if c.source.endswith("roadmap.md") and prefix in (c.section or "")
    ]
    return min(best, key=lambda c: c.ordinal) if best else None


def what_next(roadmap: Roadmap, bank: Bank, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The weakest topic of the first phase not yet mastered, in the roadmap's order."""
    from assistant.coach.coach import citation

    current = next((r for r in rows if not r["mastered"] and r["topics_total"]), None)
    if current is None:
        last = rows[-1] if rows else {"phase": None, "title": ""}
        return {
            "phase": last["phase"],
            "topic": None,
            "reason": "Every phase of the roadmap is mastered: keep reviewing due cards.",
            "citation": None,
        }
    number = current["phase"]
    phase = roadmap.phases[number]
    unseen = [t["topic"] for t in current["topics"] if not t["seen"]]
    if unseen:
        topic = unseen[0]
        why = f"you have not been quizzed on {topic} yet"
    else:
        weakest = min(current["topics"], key=lambda t: t["mastery"] or 0.0)
        topic = weakest["topic"]
        why = f"it is your weakest topic there ({round((weakest['mastery'] or 0) * 100)}% recalled)"
    earlier = [r for r in rows if r["phase"] < number]
    if earlier and all(r["mastered"] for r in earlier) and number > 1:
        lead = f"You have mastered Phase {number - 1}, so the roadmap moves on to"
    else:
        lead = "The roadmap builds phase on phase, and you are in"
    rule = next((n for n in phase.notes if n.startswith("Rule")), "")
    reason = f"{lead} Phase {number} ({phase.title}); study {topic} next because {why}."
    if rule:
        reason = reason[:-1] + f" ({rule})."
    chunk = roadmap_chunk(bank, number)
    return {
        "phase": number,
        "topic": topic,
        "reason": reason,
        "citation": citation(chunk) if chunk else None,
    }
