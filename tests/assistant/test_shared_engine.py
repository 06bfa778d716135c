"""One engine (connection pool) for the stores of the ledger's database (SharedEngine).

The factory opens the database once, migrates it once, and the ledger, the conversation
log, the coach's store and the feedback store all hold that one engine; closing one of
them leaves the others working, and the last one to close disposes the pool, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from assistant.coach import SqlCoachStore
from assistant.conversation_db import Exchange
from assistant.conversation_log import SqlConversationLog
from assistant.errors import ConfigError, NotFoundError
from assistant.factory import make_assistant, make_coach, make_feedback, shared_database
from assistant.feedback_store import SqlFeedbackStore
from assistant.ledger import QueryCost, SqlCostLedger
from assistant.ledger_db import create_ledger_engine
from assistant.migrations import upgrade_schema
from assistant.shared_engine import SharedEngine
from tests.assistant.test_ledger_durability import fresh_database  # noqa: F401
from tests.conftest import make_settings
from tests.fakes.embedder import BagOfWordsEmbedder


def disposals(engine: sa.Engine) -> list[sa.Engine]:
    """Grows by one each time ``engine.dispose()`` runs."""
    seen: list[sa.Engine] = []
    sa.event.listen(engine, "engine_disposed", seen.append)
    return seen


def cost(request_id: str, key_id: str = "k") -> QueryCost:
    return QueryCost(
        ts=datetime.now(UTC), request_id=request_id, key_id=key_id, backend="extractive",
        model="m", endpoint="ask",
    )  # fmt: skip


def exchange(conv: str, owner: str) -> Exchange:
    now = datetime.now(UTC)
    return Exchange(
        ts=now, request_id=uuid.uuid4().hex, conversation_id=conv, owner=owner,
        question="what is ridge?", answer="Ridge adds an L2 penalty [1].", citations=[],
        answered_at=now.isoformat(),
    )  # fmt: skip


def test_closing_one_store_leaves_the_others_working_and_the_last_disposes_once() -> None:
    # In memory: one connection holds the whole database, so an early dispose loses it.
    db = SharedEngine.open("sqlite://")
    disposed = disposals(db.engine)
    ledger = SqlCostLedger(engine=db)
    log = SqlConversationLog(db)
    feedback = SqlFeedbackStore(db)
    coach = SqlCoachStore(db)
    assert ledger.engine is log.engine is feedback.engine is coach.engine is db.engine

    ledger.record(cost("r1"))
    assert ledger.flush()
    feedback.close()
    coach.close()
    coach.close()  # a second close lets go of nothing more
    assert disposed == []
    assert feedback.engine.pool is ledger.engine.pool  # still the pool the others use

    ledger.record(cost("r2"))
    assert ledger.flush()
    assert ledger.summary()["totals"]["queries"] == 2  # the first row survived the closes
    log.record(exchange("c1", "learner:a"))
    found = log.read("learner:a", "c1")
    assert found is not None and len(found["turns"]) == 2
    log.close()
    assert disposed == []
    ledger.close()
    assert disposed == [db.engine] and db.disposed
    with pytest.raises(ConfigError, match="is closed"):
        SqlFeedbackStore(db)


def test_a_store_given_a_plain_engine_owns_it(tmp_path: Path) -> None:
    engine = create_ledger_engine(f"sqlite:///{tmp_path}/own.db")
    upgrade_schema(engine)
    disposed = disposals(engine)
    store = SqlFeedbackStore(engine)
    store.close()
    assert disposed == [engine]
    ledger = SqlCostLedger(engine=engine)
    ledger.close()
    assert len(disposed) == 2


def test_the_ledger_takes_a_url_or_an_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/either.db"
    with pytest.raises(ConfigError, match="not both"):
        SqlCostLedger(url, engine=create_ledger_engine(url))
    with pytest.raises(ConfigError, match="a database URL or an engine"):
        SqlCostLedger()
    db = SharedEngine.open(url)
    with pytest.raises(ConfigError, match="table_prefix"):
        SqlCostLedger(engine=db, table_prefix="Bad-")
    led = SqlCostLedger(engine=db, table_prefix="own_")  # its own tables, migrated once
    assert sa.inspect(db.engine).has_table("own_query_costs")
    led.close()
    assert db.disposed


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, migrated (so a start-up only checks the revision)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        url = request.getfixturevalue("fresh_database")
    SqlCostLedger(url).close()
    yield url


def watch_statements() -> tuple[list[tuple[sa.Engine, str]], Callable[[], None]]:
    """Every SQL statement any engine runs, until the returned function is called."""
    seen: list[tuple[sa.Engine, str]] = []

    def before(conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        seen.append((conn.engine, statement))

    sa.event.listen(sa.Engine, "before_cursor_execute", before)
    return seen, lambda: sa.event.remove(sa.Engine, "before_cursor_execute", before)


def test_the_factory_opens_one_engine_and_migrates_once(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "no-index", tmp_path, database_url=database_url)
    embedder = BagOfWordsEmbedder()
    seen, stop = watch_statements()
    try:
        a = make_assistant(settings, embedder=embedder)
        database = shared_database(a, settings)
        coach = make_coach(settings, embedder, database)
        feedback = make_feedback(settings, database)
    finally:
        stop()
    assert database is not None
    assert a.ledger.engine is a.history.engine is coach.store.engine is feedback.engine
    assert {engine for engine, _ in seen} == {database.engine}
    # One revision check for the four stores (each used to open and migrate its own).
    assert len([s for _, s in seen if "alembic_version" in s]) == 1

    disposed = disposals(database.engine)
    a.ledger.record(cost("factory-1"))
    assert a.ledger.flush()
    with pytest.raises(NotFoundError, match="no answer"):
        feedback.submit("k", "factory-2", "up")
    assert feedback.submit("k", "factory-1", "up").rating == "up"
    a.close()  # in the order the API's lifespan closes them
    feedback.close()
    learner = coach.store.issue_learner()  # the coach still works on the shared engine
    assert disposed == [] and coach.store.known_learner(learner) == learner
    coach.close()
    assert disposed == [database.engine]
