"""Q&A drafts from the roadmap: per phase its goal, time and rules, each ### list, each bullet."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.types import Chunk
from finetune.data import make_chunk
from finetune.drafts import GOLD_CHARS, DraftPair, cited, clean

_BULLET = re.compile(r"^(\s*)[*-]\s+(.*\S)\s*$")
_FIELD = re.compile(r"^\*\*([A-Z][\w ]*):\*\*\s*(.*)$")
_PHASE = re.compile(r"^Phase (\d+):\s*(.+?)(?:\s*\(.*\))?$")


@dataclass
class _RoadmapSection:
    heading: str
    lines: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)  # (**Name:**, value)
    quotes: list[tuple[str | None, str]] = field(default_factory=list)  # (h3, text)
    paragraphs: list[str] = field(default_factory=list)
    # (h3, parent bullet or None, bullet text)
    bullets: list[tuple[str, str | None, str]] = field(default_factory=list)


def _parse_roadmap(text: str) -> tuple[str, list[_RoadmapSection]]:
    title, sections = "", []
    sec: _RoadmapSection | None = None
    h3: str | None = None
    parent: str | None = None
    open_field: int | None = None  # index of a **Field:** whose value follows on next lines
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("# "):
            title = clean(line[2:])
            continue
        if line.startswith("## "):
            sec, h3, parent, open_field = _RoadmapSection(clean(line[3:])), None, None, None
            sections.append(sec)
            continue
        if sec is None:
            continue
        sec.lines.append(line)
        if not line.strip():
            open_field = None
        elif line.startswith("### "):
            h3, parent, open_field = clean(line[4:]), None, None
        elif m := _BULLET.match(line):
            item = clean(m.group(2)).rstrip(":")
            if m.group(1) and parent is not None:
                sec.bullets.append((h3 or "Topics", parent, item))
            else:
                parent = item
                sec.bullets.append((h3 or "Topics", None, item))
        elif m := _FIELD.match(line):
            sec.fields.append((m.group(1), clean(m.group(2))))
            open_field = len(sec.fields) - 1 if not m.group(2).strip() else None
        elif line.startswith(">"):
            sec.quotes.append((h3, clean(line.lstrip("> "))))
        elif open_field is not None:
            name, value = sec.fields[open_field]
            sec.fields[open_field] = (name, f"{value}; {clean(line)}".lstrip("; "))
        elif line.strip() != "<br/>":
            sec.paragraphs.append(clean(line))
    return title, sections


def _block(lines: Sequence[str]) -> str:
    kept = [
        "- " + clean(ln.strip()[2:]) if _BULLET.match(ln) else clean(ln.lstrip("#> "))
        for ln in lines
    ]
    return "\n".join(k for k in kept if k)[:GOLD_CHARS]


def _phase_drafts(sec: _RoadmapSection, title: str, source: str) -> list[DraftPair]:
    m = _PHASE.match(sec.heading)
    short = f"Phase {m.group(1)} ({m.group(2)})" if m else sec.heading
    gold = make_chunk(_block(sec.lines), source=source, title=title, section=sec.heading)

    def draft(q: str, a: str, evidence: str, chunk: Chunk = gold) -> DraftPair:
        return DraftPair(q, a, chunk, evidence, sec.heading, "roadmap")

    out = []
    for name, value in sec.fields:
        if not value:
            continue
        if name == "Goal":
            verb = value[0].lower() + value[1:] if value[1:2].islower() else value
            q, a = f"What is the goal of {short}?", f"The goal of {short} is to {verb}"
        elif name == "Time":
            q, a = f"How long should I spend on {short}?", f"The roadmap plans {value} for {short}"
        else:
            q, a = f"What is the {name.lower()} of {short}?", f"{name} of {short}: {value}"
        out.append(draft(q, cited(a), value))
    for h3, quote in sec.quotes:
        where = f"{short}, under {h3}" if h3 else short
        q = f"What key point does the roadmap make in {where}?"
        out.append(draft(q, cited(f"The roadmap stresses: {quote}"), quote))
    groups: dict[str, list[tuple[str | None, str]]] = {}
    for h3, parent, item in sec.bullets:
        groups.setdefault(h3, []).append((parent, item))
    for h3, items in groups.items():
        where = f"{sec.heading} > {h3}"
        sub = make_chunk(_block(_subsection_lines(sec.lines, h3)), source=source, title=title, section=where)  # fmt: skip
        children: dict[str, list[str]] = {}
        for parent, item in items:
            if parent is not None:
                children.setdefault(parent, []).append(item)
        listed = "; ".join(
            f"{item} ({', '.join(children[item])})" if item in children else item
            for parent, item in items
            if parent is None
        )
        q = f"What does {short} cover under {h3}?"
        out.append(draft(q, cited(f"Under {h3}, {short} lists: {listed}"), items[0][1], sub))
        for parent, item in items:
            path = f"{h3} > {parent}" if parent else h3
            a = f"{item} is covered in {sec.heading}, under {path}"
            out.append(draft(f"Which phase of the roadmap covers {item}?", cited(a), item, sub))
    return out


def _subsection_lines(lines: Sequence[str], h3: str) -> list[str]:
    start = next(
        (i for i, ln in enumerate(lines) if ln.startswith("### ") and clean(ln[4:]) == h3), None
    )
    if start is None:
        return list(lines)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("### ")), len(lines))
    return list(lines[start:end])


def roadmap_drafts(text: str, source: str = "roadmap.md") -> list[DraftPair]:
    """Pairs from the roadmap: goal, time and rules per phase, each ### list and each bullet."""
    title, sections = _parse_roadmap(text)
    out: list[DraftPair] = []
    for sec in sections:
        if _PHASE.match(sec.heading):
            out.extend(_phase_drafts(sec, title, source))
        elif sec.heading.endswith("?") and sec.paragraphs:
            # A heading that is a question ("What is an ML Engineer?") is answered by its text.
            body = " ".join(sec.paragraphs)
            tops = [item for _, parent, item in sec.bullets if parent is None]
            if tops:
                body = f"{body.rstrip(':')}: {', '.join(t[0].lower() + t[1:] for t in tops)}"
            answer = " ".join([cited(body), *(cited(q) for _, q in sec.quotes)])
            gold = make_chunk(_block(sec.lines), source=source, title=title, section=sec.heading)
            out.append(
                DraftPair(sec.heading, answer, gold, sec.paragraphs[0], sec.heading, "roadmap")
            )
    return out


def next_phase_drafts(text: str, source: str = "roadmap.md") -> list[DraftPair]:
    """'What comes after Phase N?' answered from Phase N+1's own passage, and the ML rule."""
    title, sections = _parse_roadmap(text)
    phases = [(m, s) for s in sections if (m := _PHASE.match(s.heading))]
    out: list[DraftPair] = []
    for (m, _), (m2, nxt) in itertools.pairwise(phases):
        short, name2 = f"Phase {m.group(1)} ({m.group(2)})", f"Phase {m2.group(1)}: {m2.group(2)}"
        gold = make_chunk(_block(nxt.lines), source=source, title=title, section=nxt.heading)
        goal = next((v for k, v in nxt.fields if k == "Goal" and v), "")
        verb = goal[0].lower() + goal[1:] if goal[1:2].islower() else goal
        tail = f", whose goal is to {verb.rstrip('.')}" if goal else ""
        answer = cited(f"After {short}, the roadmap continues with {name2}{tail}")
        for q in (f"What should I study after {short}?", f"What comes after Phase {m.group(1)}?"):
            out.append(DraftPair(q, answer, gold, goal or nxt.heading, nxt.heading, "roadmap"))
    for m, sec in phases:
        for name, value in sec.fields:
            if name == "Rule" and "not start ml" in value.lower():
                short = f"Phase {m.group(1)} ({m.group(2)})"
                gold = make_chunk(_block(sec.lines), source=source, title=title, section=sec.heading)  # fmt: skip
                answer = cited(f"No. The roadmap's rule for {short} is: {value}")
                for q in (f"Can I start machine learning before finishing {m.group(2)}?",
                          "Can I skip Python and start with machine learning?"):  # fmt: skip
                    out.append(DraftPair(q, answer, gold, value, sec.heading, "roadmap"))
    return out
