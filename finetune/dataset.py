"""The training set for the bundled model: topic pairs, roadmap pairs and refusals, split by topic.

``build_dataset`` is the ``--recipe topics`` of ``assistant finetune data``. Every pair gets
the passages real retrieval returns for its question (the service's own retriever and
passage budget), so the model learns to pick the supporting passage out of noisy ones;
when retrieval misses a supporting passage it is put first. Pairs about held-out topics
(``finetune.split``) never reach the training file, and neither do their passages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import BadInputError
from assistant.types import Chunk
from finetune.corpus_pairs import Retriever
from finetune.data import CURATED_PAIRS, QAPair, cited_numbers, dedupe, load_pairs
from finetune.drafts import CITE
from finetune.roadmap_pairs import next_phase_drafts, roadmap_drafts
from finetune.split import drop_heldout_passages, is_heldout, mentions, passage_topic
from finetune.topic_pairs import (
    NOT_COVERED,
    MultiDraft,
    note_sections,
    out_of_scope_questions,
    supports,
    topic_drafts,
)

SPLIT_RULE = "sha256(lower(topic)) % 5 == 0 -> held out (finetune/split.py)"


@dataclass
class DatasetReport:
    """What the topics recipe built; written next to the pairs as the data manifest."""

    total: int
    by_origin: dict[str, int]
    heldout_pairs: int  # pairs about held-out topics, written to the held-out file only
    heldout_topics: list[str]
    train_topics: int
    duplicates_dropped: int
    gold_inserted: int  # supporting passages retrieval missed, put first
    heldout_passages_dropped: int  # held-out topic passages removed from training contexts
    passages_per_pair: int
    retrieval: bool
    split_rule: str = SPLIT_RULE
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _drafts(corpus_dir: Path) -> tuple[list[MultiDraft], list[str]]:
    roadmap = corpus_dir / "roadmap.md"
    notes = sorted((corpus_dir / "notes").glob("*.md"))
    if not roadmap.is_file() and not notes:
        raise BadInputError(f"no roadmap.md or notes/*.md under corpus {corpus_dir}")
    drafts: list[MultiDraft] = []
    topics: list[str] = []
    for note in notes:
        source = note.relative_to(corpus_dir).as_posix()
        text = note.read_text(encoding="utf-8")
        topics += [t for t, _, _ in note_sections(text, source)]
        drafts += topic_drafts(text, source)
    if roadmap.is_file():
        text = roadmap.read_text(encoding="utf-8")
        for d in [*roadmap_drafts(text), *next_phase_drafts(text)]:
            answer = d.answer.replace(CITE, "{cite0}")
            drafts.append(MultiDraft(d.question, answer, [d.gold], [d.evidence], [], d.origin))
    return drafts, topics


def attach(
    draft: MultiDraft, retrieve: Retriever | None, k: int, held: Sequence[str]
) -> tuple[QAPair, int, int]:
    """The pair with retrieved passages; also golds inserted and held-out passages dropped."""
    got = list(retrieve(draft.question, k)) if retrieve is not None else []
    passages = drop_heldout_passages(got, held)
    dropped = len(got) - len(passages)
    found: list[Chunk | None] = [
        next((c for c in passages if supports(c, gold, ev)), None)
        for gold, ev in zip(draft.golds, draft.evidence, strict=True)
    ]
    # Supporting passages retrieval missed go first, as a good retriever would rank them.
    missing = [g for g, f in zip(draft.golds, found, strict=True) if f is None]
    passages = [*missing, *passages]
    answer = draft.answer
    for slot, (gold, hit) in enumerate(zip(draft.golds, found, strict=True)):
        pos = passages.index(hit if hit is not None else gold)
        answer = answer.replace(f"{{cite{slot}}}", f"[{pos + 1}]")
    numbers = cited_numbers(answer)
    passages = passages[: max(k, *numbers)]  # an inserted gold may push a cited one past k
    inserted = len(missing) if retrieve is not None else 0
    return QAPair(draft.question, answer, passages, numbers, draft.origin), inserted, dropped


def refusal_pairs(retrieve: Retriever | None, k: int, held: Sequence[str]) -> list[QAPair]:
    """Out-of-scope questions with the passages retrieval finds anyway, answered with the refusal."""
    out = []
    for q in out_of_scope_questions():
        passages = drop_heldout_passages(list(retrieve(q, k)) if retrieve else [], held)
        out.append(QAPair(q, NOT_COVERED, passages, [], "refusal"))
    return out


def build_dataset(
    corpus_dir: Path,
    *,
    retrieve: Retriever | None = None,
    k: int = 3,
    curated: Path | None = CURATED_PAIRS,
) -> tuple[list[QAPair], list[QAPair], DatasetReport]:
    """(training pairs, held-out pairs, report): no held-out topic in the training pairs."""
    drafts, topics = _drafts(corpus_dir)
    held = [t for t in topics if is_heldout(t)]
    train_drafts: list[MultiDraft] = []
    held_drafts: list[MultiDraft] = []
    for d in drafts:
        about_held = any(is_heldout(t) for t in d.topics) or mentions(d.question, held)
        (held_drafts if about_held else train_drafts).append(d)
    made: list[QAPair] = []
    inserted = dropped = 0
    for d in train_drafts:
        pair, ins, drop = attach(d, retrieve, k, held)
        made.append(pair)
        inserted += ins
        dropped += drop
    # Held-out pairs are never trained on: their source passage is context enough.
    heldout = [attach(d, None, k, [])[0] for d in held_drafts]
    held_lower = {t.lower() for t in held}
    curated_pairs = [
        p
        for p in (load_pairs(curated) if curated is not None else [])
        if not mentions(p.question, held)
        and not any(passage_topic(c).lower() in held_lower for c in p.context)
    ]
    pairs, dup = dedupe([*curated_pairs, *made, *refusal_pairs(retrieve, k, held)])
    report = DatasetReport(
        total=len(pairs),
        by_origin=dict(Counter(p.origin for p in pairs)),
        heldout_pairs=len(heldout),
        heldout_topics=held,
        train_topics=len(topics) - len(held),
        duplicates_dropped=dup,
        gold_inserted=inserted,
        heldout_passages_dropped=dropped,
        passages_per_pair=max(k, 1),
        retrieval=retrieve is not None,
    )
    return pairs, heldout, report


def passages_of(pairs: Sequence[QAPair]) -> list[Chunk]:
    return [c for p in pairs for c in p.context]
