"""SqlFeedbackStore.submit: one statement per rating (the ledger check, the upsert and the
stored row read back), on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from assistant.errors import NotFoundError
from assistant.feedback import AnsweredTurn
from assistant.feedback_store import SqlFeedbackStore
from assistant.ledger import SqlCostLedger
from assistant.shared_engine import SharedEngine
from tests.assistant.test_ledger_durability import fresh_database  # noqa: F401
from tests.assistant.test_shared_engine import cost, database_url  # noqa: F401


def statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, s, *_: seen.append(s))
    return seen


def test_a_rating_is_one_statement_and_keeps_its_rules(database_url: str) -> None:  # noqa: F811
    db = SharedEngine.open(database_url)
    ledger = SqlCostLedger(engine=db)
    store = SqlFeedbackStore(db)
    try:
        ledger.record(cost("fs-1", key_id="alice"))
        assert ledger.flush()
        sent = statements(db.engine)
        turn = AnsweredTurn("What is ridge?", "Ridge adds an L2 penalty [1].", ["c1"], "v1")
        first = store.submit("alice", " fs-1 ", "up", "clear", turn=turn)
        assert len(sent) == 1  # was four: check, (check again), upsert, read back
        assert (first.rating, first.comment, first.question) == ("up", "clear", "What is ridge?")
        assert first.index_version == "v1" and first.context is None  # no passage index given

        sent.clear()
        second = store.submit("alice", "fs-1", "down")  # no text: the remembered one stays
        assert len(sent) == 1
        assert (second.rating, second.comment, second.question) == ("down", None, "What is ridge?")
        assert second.created_at == first.created_at and second.updated_at > first.updated_at
        assert store.get("alice", "fs-1") == second

        waited: list[str] = []

        def late_row() -> None:  # the answer's row reaches the ledger while the rating waits
            waited.append("flush")
            ledger.record(cost("fs-2", key_id="alice"))
            assert ledger.flush()

        sent.clear()
        assert store.submit("alice", "fs-2", "up", wait_for_ledger=late_row).rating == "up"
        assert waited == ["flush"]
        with pytest.raises(NotFoundError, match="'fs-1' for this caller"):
            store.submit("bob", "fs-1", "up", wait_for_ledger=lambda: waited.append("again"))
        assert waited == ["flush", "again"]  # refused only after waiting for the ledger once
        with pytest.raises(NotFoundError):
            store.get("bob", "fs-1")  # the refused rating stored nothing
        assert store.summary()["ratings"] == 2
    finally:
        with db.engine.begin() as conn:  # the PostgreSQL database may be shared
            conn.execute(sa.text("delete from feedback where request_id like 'fs-%'"))
        store.close()
        ledger.close()
