"""Q&A pairs made from the corpus: roadmap headings and bullets, and the topic notes.

Each pair is first a draft: a question, an answer with a ``{cite}`` slot, and the gold
passage the answer comes from. ``attach_context`` then gives it the passages the
retriever returns for the question, so the model learns to answer from retrieved
context: the answer cites the retrieved passage that supports it, or the gold passage
is put first when retrieval missed it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import BadInputError
from assistant.types import Chunk
from finetune.data import CURATED_PAIRS, QAPair, dedupe, load_pairs, make_chunk
from finetune.drafts import CITE, DraftPair, cited, clean
from finetune.roadmap_pairs import roadmap_drafts

# retrieve(question, k) -> the k best passages, best first (the index's retriever).
Retriever = Callable[[str, int], Sequence[Chunk]]

NOTE_LABELS = {
    "Core idea.": "What is {topic}?",
    "When to use it.": "When should I use {topic}?",
    "Common pitfall.": "What is a common pitfall with {topic}?",
}


def note_drafts(text: str, source: str) -> list[DraftPair]:
    """Three pairs per ``## Topic`` of a note: its core idea, when to use it, its pitfall."""
    title, topic, in_code = "", None, False
    paragraph: list[str] = []
    out: list[DraftPair] = []

    def flush() -> None:
        para = " ".join(paragraph).strip()
        paragraph.clear()
        for label, question in NOTE_LABELS.items():
            if topic and para.startswith(f"**{label}**"):
                body = para[len(label) + 4 :].strip()
                if body:
                    gold = make_chunk(clean(para), source=source, title=title, section=topic)
                    q = question.format(topic=topic)
                    out.append(DraftPair(q, cited(body), gold, clean(body)[:80], topic, "notes"))

    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            flush()
            in_code = not in_code
        elif in_code:
            continue
        elif line.startswith("# "):
            flush()
            title = clean(line[2:])
        elif line.startswith("## "):
            flush()
            topic = clean(line[3:])
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
    flush()
    return out


def attach_context(
    drafts: Sequence[DraftPair], retrieve: Retriever | None, k: int
) -> tuple[list[QAPair], int]:
    """Pairs with retrieved passages; also how many needed their gold passage put in."""
    pairs, inserted = [], 0
    for d in drafts:
        passages = list(retrieve(d.question, k)) if retrieve is not None and k > 0 else []
        pos = next((i for i, c in enumerate(passages) if d.supported_by(c)), None)
        if pos is None:
            # Retrieval missed the source: a good retriever would have ranked it first.
            passages, pos = [d.gold, *passages][: max(k, 1)], 0
            inserted += retrieve is not None
        answer = d.answer.replace(CITE, f"[{pos + 1}]")
        pairs.append(QAPair(d.question, answer, passages, [pos + 1], d.origin))
    return pairs, inserted


@dataclass
class DataReport:
    """What ``finetune data`` built: counts by origin, duplicates dropped, retrieval misses."""

    total: int
    by_origin: dict[str, int]
    duplicates_dropped: int
    retrieval: bool
    gold_inserted: int  # pairs whose supporting passage retrieval missed (put first instead)
    passages_per_pair: int


def build_pairs(
    corpus_dir: Path,
    *,
    retrieve: Retriever | None = None,
    k: int = 3,
    curated: Path | None = CURATED_PAIRS,
) -> tuple[list[QAPair], DataReport]:
    """Curated pairs first (they win duplicates), then roadmap and note pairs with passages."""
    roadmap = corpus_dir / "roadmap.md"
    notes = sorted((corpus_dir / "notes").glob("*.md"))
    if not roadmap.is_file() and not notes:
        raise BadInputError(f"no roadmap.md or notes/*.md under corpus {corpus_dir}")
    drafts: list[DraftPair] = []
    if roadmap.is_file():
        drafts += roadmap_drafts(roadmap.read_text(encoding="utf-8"))
    for note in notes:
        source = note.relative_to(corpus_dir).as_posix()
        drafts += note_drafts(note.read_text(encoding="utf-8"), source)
    made, inserted = attach_context(drafts, retrieve, k)
    curated_pairs = load_pairs(curated) if curated is not None else []
    pairs, dropped = dedupe([*curated_pairs, *made])
    report = DataReport(
        total=len(pairs),
        by_origin=dict(Counter(p.origin for p in pairs)),
        duplicates_dropped=dropped,
        retrieval=retrieve is not None,
        gold_inserted=inserted,
        passages_per_pair=max(k, 1),
    )
    return pairs, report
