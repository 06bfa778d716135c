"""Grounding in the roadmap: the roadmap's own passage joins the passages of a question.

The notes explain a topic at length, so they outrank the roadmap's short lines (a phase's
goal, its suggested time, its rules) even for "how long should I spend on X?". This step
runs after retrieval: it finds the roadmap phase the question is about (a "Phase N" in
the question, else the roadmap passages closest to the question, helped by the phases of
the retrieved notes), and puts that phase's best passage among the hits. A question about
what comes *after* (or *before*) a topic also gets the next (previous) phase's passage, so
the answer can name it. Questions without hits stay without (out of scope stays refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.protocols import Embedder
from assistant.question_kind import content_words, read_question
from assistant.snapshot import IndexSnapshot
from assistant.types import SearchHit

_PHASE_IN_TEXT = re.compile(r"\bphase\s+(\d+)\b", re.IGNORECASE)
_NEXT = re.compile(
    r"\b(after|next|once\s+i(\s+have|'ve)?\s+(finished|done|learned|mastered|know)|"
    r"(i've|i\s+have)\s+(finished|done|completed|learned|mastered)|finished|comes?\s+then)\b",
    re.IGNORECASE,
)
_PREVIOUS = re.compile(r"\b(before|prerequisites?|prior\s+to|first\s+need)\b", re.IGNORECASE)
_PLAN = re.compile(
    r"\b(how\s+long|how\s+much\s+time|months?|weeks?|goal|rules?|roadmap|phase|focus|outcome|"
    r"next|after|before|start|begin|prerequisites?|order|(should|must|do|can)\s+i\s+"
    r"(learn|study|start|skip)|what\s+to\s+(learn|study))\b",
    re.IGNORECASE,
)
# A field of a roadmap phase ("**Time:** 1–2 months") and the question words that ask for it.
_FIELD_CUES = {
    "time": re.compile(r"\b(how\s+long|how\s+much\s+time|months?|weeks?|time)\b", re.I),
    "rule": re.compile(r"\b(rules?|before|start|skip|allowed|can\s+i)\b", re.I),
    "focus": re.compile(r"\b(focus|concentrate|emphasis)\b", re.I),
    "goal": re.compile(r"\b(goal|aim|purpose|why|point|objective)\b", re.I),
    "outcome": re.compile(r"\b(outcome|afterwards|be\s+able|result|comfortable\s+with)\b", re.I),
}
_FIELD = re.compile(r"\*\*(\w+):\*\*")


@dataclass(slots=True)
class _Phases:
    version: str
    rows: dict[int, list[int]]  # phase -> roadmap rows, in document order
    all_rows: np.ndarray


class RoadmapGrounding:
    """``ground(snapshot, question, hits, k)``: hits that include the roadmap's passage."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        source: str = "roadmap.md",
        min_similarity: float = 0.3,
        note_weight: float = 0.25,
    ) -> None:
        self.embedder = embedder
        self.source = source
        self.min_similarity = min_similarity  # without plan words, add only a close passage
        self.note_weight = note_weight  # how much the retrieved notes' phases count
        self._phases: _Phases | None = None

    def _roadmap(self, snapshot: IndexSnapshot) -> _Phases:
        cached = self._phases
        if cached is not None and cached.version == snapshot.version:
            return cached
        rows: dict[int, list[int]] = {}
        all_rows = np.flatnonzero(snapshot.sources == self.source).astype(np.int64)
        for row in all_rows:
            chunk = snapshot.chunks[int(row)]
            m = _PHASE_IN_TEXT.search(chunk.section)
            phase = int(m.group(1)) if m else (chunk.phases[0] if len(chunk.phases) == 1 else 0)
            if phase > 0:
                rows.setdefault(phase, []).append(int(row))
        for phase_rows in rows.values():
            phase_rows.sort(key=lambda r: snapshot.chunks[r].ordinal)
        self._phases = _Phases(snapshot.version, rows, all_rows)
        return self._phases

    def _similarities(self, snapshot: IndexSnapshot, question: str, rows: np.ndarray) -> dict:
        if not len(rows):
            return {}
        qvec = self.embedder.embed_query(question)
        return dict(snapshot.dense.search(qvec, len(rows), rows))

    def topic_phase(
        self, snapshot: IndexSnapshot, question: str, hits: list[SearchHit]
    ) -> tuple[int | None, dict[int, float]]:
        """The roadmap phase a question is about (None if none), and roadmap row similarities."""
        road = self._roadmap(snapshot)
        sims = self._similarities(snapshot, question, road.all_rows)
        explicit = _PHASE_IN_TEXT.search(question)
        if explicit and int(explicit.group(1)) in road.rows:
            return int(explicit.group(1)), sims
        votes: dict[int, float] = {}
        for phase, rows in road.rows.items():
            votes[phase] = max((sims.get(r, 0.0) for r in rows), default=0.0)
        for rank, hit in enumerate(h for h in hits if h.chunk.source != self.source):
            if len(hit.chunk.phases) == 1 and hit.chunk.phases[0] in votes:
                votes[hit.chunk.phases[0]] += self.note_weight * 0.5**rank
        if not votes:
            return None, sims
        return max(votes, key=lambda p: votes[p]), sims

    def _best_row(self, snapshot: IndexSnapshot, question: str, rows: list[int], sims: dict) -> int:
        def score(row: int) -> float:
            fields = {f.lower() for f in _FIELD.findall(snapshot.chunks[row].text)}
            asked = sum(1 for f in fields if f in _FIELD_CUES and _FIELD_CUES[f].search(question))
            return sims.get(row, 0.0) + 0.15 * asked

        return max(rows, key=score)

    def ground(
        self, snapshot: IndexSnapshot, question: str, hits: list[SearchHit], k: int
    ) -> list[SearchHit]:
        """``hits`` with the roadmap passage(s) of the question's phase (at most ``k + 1``)."""
        if not hits or k <= 0:
            return hits
        road = self._roadmap(snapshot)
        if not road.rows:
            return hits
        phase, sims = self.topic_phase(snapshot, question, hits)
        if phase is None:
            return hits
        plan = bool(_PLAN.search(question))
        wanted: list[int] = []
        step = 1 if _NEXT.search(question) else (-1 if _PREVIOUS.search(question) else 0)
        if _FIELD_CUES["outcome"].search(question):
            step = 0  # "what should I manage after X?" asks for X's outcome, not the next phase
        if step and phase + step in road.rows:
            # The neighbouring phase's first passage names it and gives its goal.
            wanted.append(road.rows[phase + step][0])
            if step > 0:  # "what comes after X": X's own roadmap lines are not the answer
                own = {snapshot.chunks[r].chunk_id for r in road.rows[phase]}
                hits = [h for h in hits if h.chunk.chunk_id not in own] or hits
        best = self._best_row(snapshot, question, road.rows[phase], sims)
        if step <= 0 and (plan or sims.get(best, 0.0) >= self.min_similarity):
            wanted.append(best)  # ("after X" is answered by the next phase alone)
        if not wanted:
            return hits
        added = [self._hit(snapshot, row, sims, hits) for row in wanted]
        ids = {h.chunk.chunk_id for h in added}
        rest = [h for h in hits if h.chunk.chunk_id not in ids]
        # The roadmap answers a planning question, so it leads the k passages; otherwise
        # it joins them as one more, displacing no note.
        return (added + rest)[:k] if plan else rest[:k] + added[:1]

    @staticmethod
    def _hit(snapshot: IndexSnapshot, row: int, sims: dict, hits: list[SearchHit]) -> SearchHit:
        chunk = snapshot.chunks[row]
        for h in hits:
            if h.chunk.chunk_id == chunk.chunk_id:
                return h
        sim = float(sims.get(row, 0.0))
        floor = min((h.score for h in hits), default=0.0)
        return SearchHit(chunk, floor, dense_score=sim)


@dataclass(slots=True)
class _Sections:
    version: str
    heads: list[tuple[int, set[str]]]  # (lead row, innermost heading words)


class SectionLeads:
    """For "what is X" and "X vs Y": the opening passage of the section headed X is a hit.

    Long sections are cut into several passages, and retrieval may return a later one
    (X's pitfalls) without the one that defines X. A section's *lead* passage (its first
    chunk) is added when its innermost heading names the question's topic.
    """

    def __init__(self, embedder: Embedder, *, max_added: int = 2) -> None:
        self.embedder = embedder
        self.max_added = max_added
        self._sections: _Sections | None = None

    def _index(self, snapshot: IndexSnapshot) -> _Sections:
        cached = self._sections
        if cached is not None and cached.version == snapshot.version:
            return cached
        first: dict[tuple[str, str], int] = {}
        for row, c in enumerate(snapshot.chunks):
            key = (c.source, c.section)
            if key not in first or c.ordinal < snapshot.chunks[first[key]].ordinal:
                first[key] = row
        heads = []
        for (_, section), row in first.items():
            path = [p for p in section.split(" > ") if p and p != snapshot.chunks[row].title]
            if path:
                heads.append((row, content_words(path[-1])))
        self._sections = _Sections(snapshot.version, heads)
        return self._sections

    def ground(
        self, snapshot: IndexSnapshot, question: str, hits: list[SearchHit], k: int
    ) -> list[SearchHit]:
        kind = read_question(question)
        if not hits or not kind.central:
            return hits
        heads = self._index(snapshot).heads
        have = {h.chunk.chunk_id for h in hits}
        leads: list[int] = []
        for term in kind.terms[: self.max_added]:
            # Sections whose heading names the whole term; the tightest heading wins.
            named = [(len(term) / len(words), row) for row, words in heads if term <= words]
            if not named:
                continue
            tight = max(score for score, _ in named)
            rows = [row for score, row in named if score == tight]
            if len(rows) > 1:  # several sections named alike: the closest to the question
                sims = dict(
                    snapshot.dense.search(
                        self.embedder.embed_query(question), len(rows), np.array(rows)
                    )
                )
                rows.sort(key=lambda r: -sims.get(r, 0.0))
            leads.append(rows[0])
        added = [
            SearchHit(snapshot.chunks[r], hits[-1].score, dense_score=hits[0].dense_score)
            for r in dict.fromkeys(leads)
            if snapshot.chunks[r].chunk_id not in have
        ]
        if not added:
            return hits
        if kind.definitional and not kind.comparison:
            return (added + hits)[:k]  # the definition leads the passages
        keep = max(1, k - len(added))
        return (hits[:keep] + added)[:k]


class Grounding:
    """The grounding step of the answer pipeline: section leads, then the roadmap."""

    def __init__(self, embedder: Embedder, *, roadmap_source: str = "roadmap.md") -> None:
        self.sections = SectionLeads(embedder)
        self.roadmap = RoadmapGrounding(embedder, source=roadmap_source)

    def ground(
        self, snapshot: IndexSnapshot, question: str, hits: list[SearchHit], k: int
    ) -> list[SearchHit]:
        """``hits`` (already filtered for relevance) with the passages an answer needs."""
        hits = self.sections.ground(snapshot, question, hits, k)
        return self.roadmap.ground(snapshot, question, hits, k)
