"""`PassageIndex`: neighbours by chunk order within a source, whatever the row order."""

from __future__ import annotations

import pytest

from assistant.errors import NotFoundError
from assistant.passages import PassageIndex, preview
from assistant.types import Chunk


def chunk(cid: str, source: str, ordinal: int, text: str = "text") -> Chunk:
    return Chunk(cid, source, "T", "T > S", text, None, (2,), "h", ordinal)


def test_neighbours_follow_chunk_order_within_the_source() -> None:
    # Rows as an incremental build may leave them: sources interleaved, ordinals out of order.
    rows = [chunk("a2", "a.md", 2), chunk("b0", "b.md", 0), chunk("a0", "a.md", 0),
            chunk("a1", "a.md", 1), chunk("b1", "b.md", 1)]  # fmt: skip
    index = PassageIndex(rows)
    p = index.passage("a1", "v1")
    assert (p.chunk.chunk_id, p.position, p.count) == ("a1", 2, 3)
    assert (p.previous and p.previous.chunk_id, p.next and p.next.chunk_id) == ("a0", "a2")
    first, last = index.passage("b0"), index.passage("a2")
    assert first.previous is None and first.next is not None and first.next.chunk_id == "b1"
    assert last.next is None and (last.position, last.count) == (3, 3)
    body = p.to_json("v1")
    assert body["previous"] == {"chunk_id": "a0", "section": "T > S", "preview": "text"}
    assert body["headings"] == ["T", "S"] and body["topic"] == "S"
    assert body["phases"] == [{"number": 2, "title": None}] and body["index_version"] == "v1"
    with pytest.raises(NotFoundError, match="'zz' in index version v1"):
        index.passage("zz", "v1")


def test_preview_cuts_at_a_word() -> None:
    assert preview("short  text\nhere") == "short text here"
    long = "word " * 40
    shown = preview(long, 23)
    assert shown == "word word word word…" and len(shown) <= 24
