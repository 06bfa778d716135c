"""Q&A drafts per topic of the notes, per roadmap phase transition, and out-of-scope refusals.

Per ``## Topic`` of a note: what it is, when to use it, its common pitfall (each in two
phrasings) and how it compares with its neighbour topic; answers are the first sentences
of the labelled paragraph, every sentence cited. Per roadmap phase: what comes next,
and the "do not start ML before Python" rule as a yes/no question. Questions the
material does not cover get the service's refusal as their answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.types import Chunk
from finetune.data import make_chunk
from finetune.drafts import clean, norm

NOT_COVERED = (
    "The study material does not cover this question. Try rephrasing it, or ask about a "
    "topic of the roadmap."
)
LABELS = {"Core idea.": "what", "When to use it.": "when", "Common pitfall.": "pitfall"}
QUESTIONS = {
    "what": ("What is {t}?", "Explain {t}."),
    "when": ("When should I use {t}?", "What is {t} good for?"),
    "pitfall": ("What is a common pitfall with {t}?", "What mistake should I avoid with {t}?"),
}
ANSWER_SENTENCES = 2  # sentences per answer: short answers train fast and stay faithful
ANSWER_WORDS = 70  # ... and at most about this many words
_SENTENCE = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<!vs\.)(?<=[.!?])\s+(?=\S)|\s*\u00b6\s*")
CODE_BREAK = " \u00b6 "  # where a code block interrupted a paragraph: a sentence ends there
# Questions no passage of the corpus answers (none of them is in the answer eval set).
OUT_OF_SCOPE = (
    "What is the capital of Australia?", "How do I bake sourdough bread?",
    "Who won the football World Cup in 2014?", "What is the best diet to lose weight?",
    "How do I replace the battery of my phone?", "Which planet is the largest?",
    "Write me a poem about the sea.", "How tall is Mount Everest?",
    "What is the plot of Hamlet?", "How do I learn to play the guitar?",
    "What is the exchange rate of the euro today?", "How do vaccines work?",
    "Who was the first president of the United States?", "How do I grow tomatoes?",
    "What is the weather tomorrow?", "Recommend a good thriller movie.",
    "How many bones are in the human body?", "How do I tie a tie?",
    "What is the speed of light?", "How do I file my taxes?",
    "What is the boiling point of water on Everest?", "Translate 'good morning' into Japanese.",
    "Who composed the Four Seasons?", "How do I train for a marathon?",
    "What causes earthquakes?", "How do I make a paper airplane?",
    "What is the population of Brazil?", "What are the rules of chess castling?",
    "How do I clean a cast iron pan?", "What is photosynthesis?",
)  # fmt: skip


@dataclass(slots=True)
class MultiDraft:
    """A question, an answer with slots ``{cite0}``, ``{cite1}``..., one gold passage per slot."""

    question: str
    answer: str
    golds: list[Chunk]
    evidence: list[str]  # per gold: text a retrieved passage must contain to stand in for it
    topics: list[str]  # the note topics the pair is about (for the held-out split)
    origin: str


def sentences(text: str, limit: int = ANSWER_SENTENCES, words: int = ANSWER_WORDS) -> list[str]:
    """The first complete sentences of ``text``; fragments ('... minimizes:') are skipped."""
    out: list[str] = []
    used = 0
    # Spaces inside `code` spans never end a sentence.
    protected = re.sub(r"`[^`]*`", lambda m: m.group().replace(" ", "\x00"), clean(text))
    for s in _SENTENCE.split(protected):
        s = s.replace("\x00", " ").strip()
        if not s or s[-1] not in ".!?":
            continue  # a fragment that introduced a code block
        if out and used + len(s.split()) > words:
            break
        out.append(s)
        used += len(s.split())
        if len(out) >= limit:
            break
    return out


def cite_each(parts: Sequence[str], slot: str) -> str:
    """Every sentence with the citation slot before its final punctuation."""
    return " ".join(f"{p.rstrip('.!? ')} {slot}." for p in parts)


def note_sections(text: str, source: str) -> list[tuple[str, Chunk, dict[str, str]]]:
    """(topic, its passage, {kind: labelled paragraph}) per ``## Topic``, code blocks left out."""
    title, topic, in_code, kind = "", None, False, None
    found: list[tuple[str, Chunk, dict[str, str]]] = []
    bodies: dict[str, str] = {}

    def close() -> None:
        if topic and bodies:
            full = " ".join(f"{label} {bodies[k]}" for label, k in LABELS.items() if k in bodies)
            full = " ".join(full.replace(CODE_BREAK.strip(), " ").split())
            found.append((topic, make_chunk(full, source=source, title=title, section=topic), dict(bodies)))  # fmt: skip

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            if kind is not None:
                bodies[kind] += CODE_BREAK
        elif in_code or not line:
            continue
        elif raw.startswith("# "):
            title = clean(line[2:])
        elif raw.startswith("## "):
            close()
            topic, kind, bodies = clean(line[3:]), None, {}
        elif line.startswith("**") and topic:
            label = next((lb for lb in LABELS if line.startswith(f"**{lb}**")), None)
            kind = LABELS[label] if label else None
            if label:
                bodies[kind] = line[len(label) + 4 :].strip()  # type: ignore[index]
        elif kind is not None:
            bodies[kind] = f"{bodies[kind]} {line}"
    close()
    return found


def topic_drafts(text: str, source: str) -> list[MultiDraft]:
    """What / when / pitfall per topic (two phrasings each), and a comparison with a neighbour."""
    sections = note_sections(text, source)
    out: list[MultiDraft] = []
    for i, (topic, gold, bodies) in enumerate(sections):
        for kind, phrasings in QUESTIONS.items():
            parts = sentences(bodies.get(kind, ""))
            if not parts:
                continue
            answer = cite_each(parts, "{cite0}")
            for q in phrasings:
                out.append(MultiDraft(q.format(t=topic), answer, [gold], [parts[0][:80]], [topic], "notes"))  # fmt: skip
        j = i + 1 if i + 1 < len(sections) else i - 1
        if j < 0 or j == i:
            continue
        other, other_gold, other_bodies = sections[j]
        a = sentences(bodies.get("what", ""), limit=1)
        b = sentences(other_bodies.get("what", ""), limit=1)
        if a and b:
            answer = f"{cite_each(a, '{cite0}')} {cite_each(b, '{cite1}')}"
            q = f"How does {topic} compare with {other}?"
            out.append(MultiDraft(q, answer, [gold, other_gold], [a[0][:80], b[0][:80]], [topic, other], "compare"))  # fmt: skip
    return out


def supports(chunk: Chunk, gold: Chunk, evidence: str) -> bool:
    """A retrieved passage stands in for ``gold``: same source, holds the evidence text."""
    return chunk.source == gold.source and norm(evidence) in norm(chunk.text)


def out_of_scope_questions() -> list[str]:
    return list(OUT_OF_SCOPE)
