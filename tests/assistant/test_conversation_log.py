"""SqlConversationLog: kept conversations in the ledger's database, written in the background.

A database outage loses no turn (they are spilled and replayed), reads during it say so
(StorageUnavailableError, HTTP 503), and every read names its owner.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.cache import MemoryCache
from assistant.conversation_db import TITLE_CHARS, Exchange
from assistant.conversation_export import conversation_markdown
from assistant.conversation_log import SqlConversationLog
from assistant.conversation_store import ConversationStore
from assistant.errors import BadInputError, StorageUnavailableError
from assistant.generation.extractive import ExtractiveGenerator
from assistant.ledger import SqlCostLedger
from assistant.ledger_db import create_ledger_engine
from assistant.migrations import upgrade_schema
from assistant.readiness import dependency_states
from tests.assistant.tcp_proxy import TcpProxy
from tests.assistant.test_ledger_durability import fresh_database, proxy  # noqa: F401
from tests.conftest import free_port
from tests.fakes.embedder import BagOfWordsEmbedder

CITE = {"id": 1, "chunk_id": "c1", "source": "notes/ridge.md", "title": "Ridge", "section": "L2",
        "url": "https://example.org/ridge", "snippet": "Ridge adds an L2 penalty.", "score": 0.9,
        "phases": [4]}  # fmt: skip


def exchange(conv: str, owner: str, n: int, at: datetime) -> Exchange:
    return Exchange(
        ts=at, request_id=f"req-{n}", conversation_id=conv, owner=owner,
        question=f"question {n}", answer=f"answer {n} [1]", citations=[CITE],
        answered_at=(at + timedelta(seconds=1)).isoformat(),
    )  # fmt: skip


def open_log(url: str, tmp_path: Path) -> SqlConversationLog:
    engine = create_ledger_engine(url)
    upgrade_schema(engine)
    return SqlConversationLog(engine, spill_dir=tmp_path / "spill" / "conversations")


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_turns_titles_owners_pages_and_markdown_on_sqlite(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/ledger.db", tmp_path)
    try:
        start = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        ids = [uuid.uuid4().hex for _ in range(3)]
        for i, conv in enumerate(ids):
            for n in range(i + 1):
                log.record(exchange(conv, "key-a", n, start + timedelta(minutes=10 * i + n)))
        long_question = "why " * 40
        log.record(Exchange(ts=start, request_id="r", conversation_id=uuid.uuid4().hex,
                            owner="key-b", question=long_question, answer="no idea"))  # fmt: skip

        page = log.page("key-a", 2, None)
        assert [c["id"] for c in page["conversations"]] == [ids[2], ids[1]]
        rest = log.page("key-a", 2, page["next_cursor"])
        assert [c["id"] for c in rest["conversations"]] == [ids[0]] and rest["next_cursor"] is None
        assert [c["turn_count"] for c in page["conversations"]] == [6, 4]

        conv = log.read("key-a", ids[2])
        assert conv is not None and conv["title"] == "question 0"
        assert [t["seq"] for t in conv["turns"]] == list(range(6))
        assert [t["content"] for t in conv["turns"][:2]] == ["question 0", "answer 0 [1]"]
        assert conv["turns"][1]["citations"] == [CITE] and conv["turns"][0]["citations"] == []
        # The condensing path reads only the newest messages, oldest first.
        assert log.recent("key-a", ids[2], 3) == [
            {"role": "assistant", "content": "answer 1 [1]"},
            {"role": "user", "content": "question 2"},
            {"role": "assistant", "content": "answer 2 [1]"},
        ]
        # Another owner finds nothing, whatever it tries.
        assert log.read("key-b", ids[2]) is None and log.recent("key-b", ids[2], 10) is None
        assert not log.delete("key-b", ids[2])
        other = log.page("key-b", 10, None)["conversations"]
        assert len(other) == 1 and len(other[0]["title"]) == TITLE_CHARS
        assert other[0]["title"].endswith("…") and other[0]["title"].startswith("why why")

        md = conversation_markdown(conv)
        assert md.startswith("# question 0\n\n*Study assistant conversation")
        assert "started 2026-12-02 09:20 UTC, 3 questions" in md
        assert "## Question 3\n\n> question 2\n\n### Answer\n\nanswer 2 [1]\n" in md
        assert (
            md.count("- **[1]** Ridge — L2 · `notes/ridge.md` · <https://example.org/ridge>") == 3
        )

        with pytest.raises(BadInputError, match="limit must be between 1 and 100, got 0"):
            log.page("key-a", 0, None)
        assert log.delete("key-a", ids[2]) and log.read("key-a", ids[2]) is None
        assert not log.delete("key-a", ids[2])
    finally:
        log.close()


@pytest.mark.integration
def test_a_database_outage_loses_no_turn(
    proxy: tuple[TcpProxy, str],  # noqa: F811
    fresh_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    p, url = proxy
    log = open_log(url, tmp_path)
    conv, start = uuid.uuid4().hex, datetime.now(UTC)
    try:
        log.record(exchange(conv, "learner:x", 0, start))
        assert log.read("learner:x", conv) is not None
        p.stop()  # every connection reset, new ones refused
        for n in range(1, 6):
            log.record(exchange(conv, "learner:x", n, start + timedelta(seconds=2 * n)))
        assert log.flush(timeout_s=60)
        wait_for("the writer to notice", lambda: not log.healthy)
        assert log.writer.spilled_rows > 0 and log.writer.dropped == 0
        with pytest.raises(StorageUnavailableError, match="could not read the conversation"):
            log.read("learner:x", conv)
        p.start()
        wait_for("the replay", lambda: log.writer.spilled_rows == 0 and log.healthy)
        found = log.read("learner:x", conv)
        assert found is not None and found["turn_count"] == 12
        assert [t["content"] for t in found["turns"] if t["role"] == "user"] == [
            f"question {n}" for n in range(6)
        ]
    finally:
        p.resume()
        log.close()


def test_the_store_continues_from_the_log_when_the_cache_lost_the_turns(tmp_path: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path}/ledger.db", tmp_path)
    try:
        store = ConversationStore(MemoryCache(), 60, log=log)
        conv = store.open("learner:x", keep=True)
        store.append(conv, "What is Ridge?", "An L2 penalty [1].", citations=[CITE])
        lost = ConversationStore(MemoryCache(), 60, log=log)  # a restarted, empty cache
        again = lost.open("learner:x", conv.id, keep=True)
        assert again.id == conv.id and again.continued
        assert [m["content"] for m in again.history] == ["What is Ridge?", "An L2 penalty [1]."]
        assert not lost.open("learner:y", conv.id, keep=True).continued  # not theirs
        # Without keep (callers who cannot come back for it) nothing goes to the log.
        passing = lost.open("anonymous")
        lost.append(passing, "q", "a")
        assert log.read("anonymous", passing.id) is None
    finally:
        log.close()


def test_with_the_cache_and_the_database_both_down_a_new_conversation_starts() -> None:
    dead = create_ledger_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    log = SqlConversationLog(dead, read_wait_s=0.5)
    try:
        store = ConversationStore(MemoryCache(), 60, log=log)
        presented = uuid.uuid4().hex
        conv = store.open("learner:x", presented, keep=True)  # no exception: answered anyway
        assert conv.id != presented and not conv.continued
    finally:
        log.close(timeout_s=1)


def test_a_log_whose_database_is_unreachable_shows_down_in_the_dependencies(
    tmp_path: Path,
) -> None:
    dead = create_ledger_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    log = SqlConversationLog(dead, read_wait_s=0.5, retry_for_s=0)
    ledger = SqlCostLedger(f"sqlite:///{tmp_path}/ledger.db")  # its own database, up
    generator = ExtractiveGenerator(BagOfWordsEmbedder())
    try:

        def states(history: SqlConversationLog | None) -> dict[str, str]:
            return dependency_states(MemoryCache(), ledger, history, generator, redis=False)

        assert states(log)["history"] == "ok"  # nothing written yet: nothing known to fail
        assert "history" not in states(None)  # no conversation log configured
        log.record(exchange("c-dead", "learner:x", 1, datetime.now(UTC)))
        wait_for("the log's writer to fail", lambda: not log.healthy)
        deps = states(log)
        assert deps["history"].startswith("down (OperationalError"), deps
        assert deps["ledger"] == "ok"
    finally:
        log.close(timeout_s=1)
        ledger.close()
