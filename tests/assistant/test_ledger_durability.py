"""The ledger under database failure (issue 11 items 13, 14): real PostgreSQL behind a
loopback proxy the test stops or pauses, real processes killed with SIGKILL, and
concurrent start-up of fresh databases."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from assistant.ledger import QueryCost, SqlCostLedger
from assistant.migrations import current_revision, head_revision
from tests.assistant.tcp_proxy import TcpProxy
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def row(i: int) -> QueryCost:
    return QueryCost(ts=datetime.now(UTC), request_id=f"r-{i}", key_id="anonymous",
                     backend="extractive", model="none", endpoint="ask")  # fmt: skip


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A uniquely named, empty PostgreSQL database on the test server, dropped afterwards."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    url = sa.make_url(postgres_url)
    name = f"{url.database}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def proxy(fresh_database: str) -> Iterator[tuple[TcpProxy, str]]:
    """(proxy, URL of the fresh database through the proxy)."""
    url = sa.make_url(fresh_database)
    p = TcpProxy(url.port or 5432, url.host or "127.0.0.1")
    try:
        yield p, url.set(host="127.0.0.1", port=p.port).render_as_string(hide_password=False)
    finally:
        p.resume()
        p.stop()


def request_ids(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT request_id FROM query_costs"))]
    engine.dispose()
    return ids


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


# --- item 13: rows survive database errors, stalls and kill -9 ---------------------------


def test_rows_written_while_the_database_is_down_are_spilled_and_replayed(
    proxy: tuple[TcpProxy, str], fresh_database: str, tmp_path: Path
) -> None:
    p, url = proxy
    led = SqlCostLedger(url, spill_dir=tmp_path / "spill")
    try:
        for i in range(50):
            led.record(row(i))
        assert led.flush(timeout_s=30)
        assert led.healthy and led.spilled_rows == 0
        p.stop()  # every connection reset, new ones refused
        for i in range(50, 350):
            led.record(row(i))  # returns at once: queued, then spilled
        assert led.flush(timeout_s=60)
        wait_for("the ledger to notice", lambda: not led.healthy)
        assert led.last_error and "OperationalError" in led.last_error
        assert led.spilled_rows > 0 and led.spilled_total >= led.spilled_rows
        assert led.dropped == 0
        p.start()
        wait_for("the replay", lambda: led.spilled_rows == 0 and led.healthy)
        assert led.queue_depth == 0 and led.dropped == 0
        assert sorted(request_ids(fresh_database)) == sorted(f"r-{i}" for i in range(350))
    finally:
        led.close()


def test_the_queue_is_capped_and_overflow_is_counted_without_a_spill_folder(
    proxy: tuple[TcpProxy, str], fresh_database: str
) -> None:
    p, url = proxy
    led = SqlCostLedger(url, max_queue=10, stall_s=0.2)
    try:
        led.record(row(0))
        assert led.flush(timeout_s=30)
        p.pause()  # the database hangs mid-conversation
        led.record(row(1))
        wait_for("the writer to hang on row 1", lambda: not led.healthy)
        for i in range(2, 32):
            led.record(row(i))
        assert led.queue_depth == 10
        assert led.dropped == 20
        p.resume()
        assert led.flush(timeout_s=60)
        assert led.healthy
        assert len(request_ids(fresh_database)) == 12  # row 0, row 1 and the 10 queued
    finally:
        p.resume()
        led.close()


def test_kill_9_during_a_stall_loses_at_most_the_batch_in_flight(
    proxy: tuple[TcpProxy, str], fresh_database: str, tmp_path: Path
) -> None:
    """A real process records as fast as it can; the database hangs; kill -9 hits it."""
    p, url = proxy
    spill = tmp_path / "spill"
    SqlCostLedger(fresh_database).close()  # schema first, so the worker starts at once
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.assistant.ledger_worker", url, str(spill)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert worker.stdout is not None
    recorded = -1

    def reached(n: int) -> Callable[[], bool]:
        def check() -> bool:
            nonlocal recorded
            line = worker.stdout.readline()  # type: ignore[union-attr]
            if not line:
                pytest.fail(f"worker died: {worker.stderr.read()}")  # type: ignore[union-attr]
            recorded = int(line)
            return recorded >= n

        return check

    try:
        wait_for("200 rows written normally", reached(200))
        p.pause()
        stalled_at = recorded
        wait_for("1500 rows recorded during the stall", reached(stalled_at + 1500))
        worker.kill()
        assert worker.wait(timeout=30) == -9
        rest, _ = worker.communicate(timeout=30)
        lines = [int(x) for x in rest.split()]
        recorded = max([recorded, *lines]) + 1  # rows whose record() returned
    finally:
        if worker.poll() is None:
            worker.kill()
        p.resume()
    # A new process replays what the dead one spilled.
    SqlCostLedger(fresh_database, spill_dir=spill).close()
    stored = set(request_ids(fresh_database))
    lost = sorted(i for i in range(recorded) if f"w-{i}" not in stored)
    print(f"\nkill -9 during a stall: {recorded} rows recorded, {len(lost)} lost: {lost[:5]}...")
    assert len(lost) <= 500  # BATCH_SIZE: only the insert hung in flight ...
    assert lost == list(range(lost[0], lost[0] + len(lost))) if lost else True  # ... one batch
    assert recorded > stalled_at + 1500
    assert not list(spill.glob("*.jsonl"))  # replayed and removed


# --- item 14: concurrent start-up on an empty database -----------------------------------


def _open_ledger(url: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        led = SqlCostLedger(url)
        led.record(row(0))
        led.close()
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}")  # type: ignore[attr-defined]


def start_five_at_once(url: str) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(5), ctx.Queue()
    procs = [ctx.Process(target=_open_ledger, args=(url, barrier, results)) for _ in range(5)]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    return out


@pytest.mark.slow
def test_five_processes_start_together_on_an_empty_postgresql(fresh_database: str) -> None:
    assert start_five_at_once(fresh_database) == ["ok"] * 5
    assert len(request_ids(fresh_database)) == 5
    assert current_revision(sa.create_engine(fresh_database)) == head_revision()


@pytest.mark.slow
def test_five_processes_start_together_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh/ledger.db"
    assert start_five_at_once(url) == ["ok"] * 5
    assert len(request_ids(url)) == 5
    assert current_revision(sa.create_engine(url)) == head_revision()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrations_build_exactly_the_tables_the_ledger_writes(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = (
        f"sqlite:///{tmp_path}/m.db"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_database")
    )
    import sqlalchemy as sa

    from assistant.coach.store import metadata as coach_metadata
    from assistant.conversation_db import metadata as conversation_metadata
    from assistant.feedback import feedback_tables
    from assistant.ledger_db import ledger_tables

    led = SqlCostLedger(url)
    # The database holds the ledger's tables (with feedback), the coach's and the history's:
    # each must match its code.
    ledger_metadata, queries, _ = ledger_tables()
    feedback_tables(ledger_metadata, queries)
    expected = sa.MetaData()
    kept = [ledger_metadata, coach_metadata, conversation_metadata]
    for table in [t for m in kept for t in m.tables.values()]:
        table.to_metadata(expected)
    try:
        with led.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), expected) == []
    finally:
        led.close()


def test_a_database_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    """Tables made by the old ``create_all`` keep their rows and get stamped at head."""
    from assistant.ledger_db import create_ledger_engine, ledger_tables

    url = f"sqlite:///{tmp_path}/old.db"
    engine = create_ledger_engine(url)
    metadata, queries, _ = ledger_tables()
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(queries.insert(), [asdict(row(0))])
    engine.dispose()
    led = SqlCostLedger(url)
    led.close()
    assert request_ids(url) == ["r-0"]
    assert current_revision(sa.create_engine(url)) == head_revision()
