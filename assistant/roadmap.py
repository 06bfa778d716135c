"""The roadmap's structure (phases, goals, topics, suggested time), parsed from its Markdown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.types import Chunk

_PHASE = re.compile(r"^##\s+Phase\s+(\d+)\s*:\s*(.+?)\s*$")
_FIELD = re.compile(r"^\*\*(Goal|Time|Rule|Focus|Outcome):\*\*\s*(.+)$")
_BULLET = re.compile(r"^\s*[*-]\s+(.+?)\s*:?\s*$")


@dataclass(slots=True)
class Phase:
    number: int
    title: str  # "Core Machine Learning Algorithms"
    heading: str  # "Phase 5: Core Machine Learning Algorithms"
    goal: str = ""
    time: str = ""
    notes: list[str] = field(default_factory=list)  # Rule / Focus / Outcome lines
    topics: dict[str, list[str]] = field(default_factory=dict)  # group -> bullets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _clean(text: str) -> str:
    return re.sub(r"[*`]", "", text).strip()


def parse_roadmap(text: str) -> list[Phase]:
    phases: list[Phase] = []
    group = "Topics"
    for line in text.splitlines():
        m = _PHASE.match(line)
        if m:
            title = _clean(m.group(2))
            phases.append(Phase(int(m.group(1)), title, f"Phase {m.group(1)}: {title}"))
            group = "Topics"
            continue
        if not phases:
            continue
        phase = phases[-1]
        if line.startswith("## "):  # a later non-phase section ends the phases
            phases.append(Phase(-1, "", ""))
            continue
        if line.startswith("### "):
            group = _clean(line[4:])
            continue
        f = _FIELD.match(line.strip())
        if f:
            key, value = f.group(1), _clean(f.group(2))
            if key == "Goal":
                phase.goal = value
            elif key == "Time":
                phase.time = value
            else:
                phase.notes.append(f"{key}: {value}")
            continue
        b = _BULLET.match(line)
        if b and phase.number > 0:
            item = _clean(b.group(1)).rstrip(":")
            if item and not item.startswith(("✔", "❌")):
                phase.topics.setdefault(group, []).append(item)
    return [p for p in phases if p.number > 0]


class Roadmap:
    """Phases in order, with where-am-I and what-comes-before helpers."""

    def __init__(self, phases: list[Phase]) -> None:
        self.phases = {p.number: p for p in phases}

    @classmethod
    def from_file(cls, path: Path) -> Roadmap:
        if not path.is_file():
            return cls([])
        return cls(parse_roadmap(path.read_text(encoding="utf-8")))

    def placement(self, phases: tuple[int, ...] | list[int]) -> str | None:
        """One sentence: where the topic sits, and what to study before it."""
        known = sorted(p for p in set(phases) if p in self.phases)
        if not known:
            return None
        first = self.phases[known[0]]
        where = ", ".join(f"Phase {p}: {self.phases[p].title}" for p in known)
        sentence = f"In the roadmap this is {where}."
        before = [self.phases[p] for p in range(1, first.number) if p in self.phases]
        if before:
            prev = before[-1]
            sentence += f" Study Phase {prev.number} ({prev.title}) before it"
            sentence += (
                f"; the roadmap builds phase on phase from Phase 1 ({before[0].title})."
                if len(before) > 1
                else "."
            )
        return sentence


def material_by_phase(chunks: Iterable[Chunk]) -> dict[int, list[dict[str, Any]]]:
    """Phase -> the sources tagged with it: title, page URL, sections and chunk count."""
    material: dict[int, dict[str, dict[str, Any]]] = {}
    for c in chunks:
        for p in c.phases:
            entry = material.setdefault(p, {}).setdefault(
                c.source,
                {
                    "source": c.source,
                    "title": c.title,
                    "url": c.url.split("#")[0] if c.url else None,
                    "sections": [],
                    "chunks": 0,
                },
            )
            entry["chunks"] += 1
            if c.section and c.section not in entry["sections"]:
                entry["sections"].append(c.section)
    return {p: list(by_source.values()) for p, by_source in material.items()}
