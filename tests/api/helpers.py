"""Small helpers shared by the API tests (parsing SSE, checking citations, reading the ledger)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.types import Chunk

CITE = re.compile(r"\[(\d{1,2})\]")
UNCOVERED_QUESTION = "What is the capital of Mongolia's best pizza place?"


def parse_sse(text: str) -> list[tuple[str | None, Any]]:
    """(event name or None, decoded data) for every event of a server-sent-events body."""
    events: list[tuple[str | None, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        raw = "\n".join(data)
        try:
            events.append((name, json.loads(raw)))
        except ValueError:
            events.append((name, raw))
    return events


def assert_citations_real(answer: dict[str, Any], chunks: dict[str, Chunk]) -> None:
    """Every [n] in the answer names a citation, and every citation is a real indexed passage."""
    ids = {c["id"] for c in answer["citations"]}
    markers = {int(n) for n in CITE.findall(answer["answer"])}
    assert markers, f"the answer cites nothing: {answer['answer']!r}"
    assert markers == ids, f"markers {sorted(markers)} vs citations {sorted(ids)}"
    for c in answer["citations"]:
        chunk = chunks.get(c["chunk_id"])
        assert chunk is not None, f"citation {c['id']} names unknown chunk {c['chunk_id']}"
        assert (c["source"], c["title"], c["section"], c["url"]) == (
            chunk.source,
            chunk.title,
            chunk.section,
            chunk.url,
        )
        assert c["snippet"] == chunk.text[:280]
        assert c["phases"] == list(chunk.phases)


def ledger_rows(database_url: str, where: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of query_costs matching a SQL condition (the ledger writes in the background)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(f"select * from query_costs where {where}"), params)
            return [dict(r._mapping) for r in result]
    finally:
        engine.dispose()


def wait_for_rows(
    database_url: str, where: str, count: int, timeout_s: float = 15.0, **params: Any
) -> list[dict[str, Any]]:
    """Poll until at least ``count`` rows match (the writer thread batches inserts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = ledger_rows(database_url, where, **params)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def sqlite_url(tmp: Path) -> str:
    """The ledger URL that ``tests.conftest.make_settings`` gives a service in ``tmp``."""
    return f"sqlite:///{tmp / 'ledger.db'}"
