"""Source and phase filters from precomputed row-id arrays (issue 11, item 5)."""

from __future__ import annotations

import random

import numpy as np

from assistant.filters import RowFilter
from assistant.types import Chunk

SOURCES = [
    "notes/ml/ridge.md",
    "notes/ml/lasso.md",
    "notes/tools.txt",
    "notes-old/tools.txt",
    "roadmap.md",
    "https://example.org/docs/a.html",
    "https://example.org/docs/b/c.html",
    "https://other.example/x",
    "/abs/path.md",
    "a,b",
    "a",
    "b",
]


def chunk(row: int, source: str, phases: tuple[int, ...]) -> Chunk:
    return Chunk(f"c{row}", source, "T", "S", "text", None, phases, "h", row)


def brute_force(chunks: list[Chunk], sources: list[str] | None, phases: list[int] | None):  # type: ignore[no-untyped-def]
    """The filter as it used to be written: a Python loop over chunks x sources."""
    if not sources and not phases:
        return None
    keep = []
    for row, c in enumerate(chunks):
        ok = True
        if sources:
            ok = any(c.source == w or c.source.startswith(w.rstrip("/") + "/") for w in sources)
        if ok and phases:
            ok = bool(set(c.phases) & set(phases))
        if ok:
            keep.append(row)
    return np.asarray(keep, dtype=np.int64)


def test_row_filter_matches_the_brute_force_definition() -> None:
    rng = random.Random(7)
    chunks = [
        chunk(r, rng.choice(SOURCES), tuple(rng.sample(range(1, 10), rng.randint(0, 3))))
        for r in range(600)
    ]
    rows = RowFilter.from_chunks(chunks)
    wanted_options = [
        ["notes"],
        ["notes/"],
        ["notes/ml"],
        ["notes/ml/ridge.md"],
        ["note"],  # not a folder of anything
        ["https://example.org"],
        ["https://example.org/docs/b/"],
        ["https:/"],
        ["/"],
        ["a,b"],
        ["a", "b"],
        ["roadmap.md", "notes/tools.txt", "nowhere.md"],
        [],
    ]
    for wanted in wanted_options:
        for phases in (None, [], [5], [1, 9], [42]):
            got = rows.rows(wanted or None, phases)
            expected = brute_force(chunks, wanted or None, phases)
            if expected is None:
                assert got is None
            else:
                assert got is not None and got.dtype == np.int64
                assert got.tolist() == expected.tolist(), (wanted, phases)


def test_comma_in_a_source_name_is_not_a_separator() -> None:
    chunks = [chunk(0, "a,b", (1,)), chunk(1, "a", (1,)), chunk(2, "b", (1,))]
    rows = RowFilter.from_chunks(chunks)
    assert rows.rows(["a,b"]).tolist() == [0]  # type: ignore[union-attr]
    assert rows.rows(["a", "b"]).tolist() == [1, 2]  # type: ignore[union-attr]


def test_filters_over_a_large_index() -> None:
    # 200,000 rows in 6,500 sources: a request for 50 unknown sources touches no row array,
    # and one for a single source returns exactly its rows (no per-chunk pass is needed).
    n, n_sources = 200_000, 6_500
    by_source = {
        f"notes/{s}.md": np.arange(s, n, n_sources, dtype=np.int64) for s in range(n_sources)
    }
    bits = np.zeros(n, dtype=np.uint16)
    bits[::2] = 1 << 5
    rows = RowFilter(by_source, bits)
    assert rows.rows([f"missing/{i}.md" for i in range(50)]).size == 0  # type: ignore[union-attr]
    got = rows.rows(["notes/17.md"], [5])
    assert got is not None and got.tolist() == [r for r in range(17, n, n_sources) if r % 2 == 0]
    assert len(rows.rows(["notes"])) == n  # type: ignore[arg-type]
    assert rows.rows(None, [5]).tolist() == list(range(0, n, 2))  # type: ignore[union-attr]
