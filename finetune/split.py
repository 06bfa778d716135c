"""The topic split: which corpus topics are held out of training for the answer evaluation.

A topic is a ``## Heading`` of a note (``Ridge``, ``Big-O notation``). The rule is a hash,
so it needs no list to keep in sync and a new topic lands on a side by itself:

    held out  <=>  sha256(topic.lower()) % 5 == 0     (about one topic in five)

No pair about a held-out topic is trained on: not its own questions, not a comparison
that names it, not a roadmap question that names it; and its passages are dropped from
the retrieved context of training pairs, so the model never reads them during training.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from assistant.types import Chunk

HELDOUT_MODULUS = 5


def is_heldout(topic: str) -> bool:
    """True when ``topic`` belongs to the evaluation side of the split."""
    digest = hashlib.sha256(topic.strip().lower().encode("utf-8")).hexdigest()
    return int(digest, 16) % HELDOUT_MODULUS == 0


def heldout_topics(topics: Iterable[str]) -> list[str]:
    return [t for t in topics if is_heldout(t)]


def _words(topic: str) -> str:
    """The name a question would use: 'Gradient boosting (XGBoost)' -> 'gradient boosting'."""
    return re.sub(r"\s*\(.*?\)\s*", " ", topic).strip().lower()


def mentions(text: str, topics: Sequence[str]) -> str | None:
    """The first held-out topic whose name appears in ``text`` as whole words, if any."""
    low = text.lower()
    for topic in topics:
        names = {topic.lower(), _words(topic)}
        names |= {n[:-1] for n in names if n.endswith("s") and len(n) > 4}  # "hash map"
        for name in names:
            if name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", low):
                return topic
    return None


def passage_topic(chunk: Chunk) -> str:
    """The topic a passage sits under: the last part of its section path."""
    return chunk.section.split(" > ")[-1].strip()


def drop_heldout_passages(passages: Sequence[Chunk], topics: Sequence[str]) -> list[Chunk]:
    """Passages without those of held-out topics (note sections named after the topic)."""
    held = {t.lower() for t in topics}
    return [c for c in passages if passage_topic(c).lower() not in held]
