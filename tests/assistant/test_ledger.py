"""Cost ledger on SQLite and on the real PostgreSQL: batching writer, summaries, bad URLs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from assistant.errors import ConfigError
from assistant.ledger import QueryCost, SqlCostLedger

T0 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlCostLedger]:
    """A ledger with private tables: a file in tmp_path, or prefixed tables in the test db."""
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path}/nested/ledger.db", ""
    else:
        url = request.getfixturevalue("postgres_url")
        prefix = f"t{uuid.uuid4().hex[:12]}_"
    led = SqlCostLedger(url, table_prefix=prefix)
    try:
        yield led
    finally:
        led.close()
        if request.param == "postgresql":
            drop_tables(url, led)


def drop_tables(url: str, led: SqlCostLedger) -> None:
    """The ledger's private tables and its revision table."""
    engine = sa.create_engine(url)
    led.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f'DROP TABLE IF EXISTS "{led.queries.name[: -len("query_costs")]}alembic_version"'
            )
        )
    engine.dispose()


def row(i: int, **changes: object) -> QueryCost:
    base = QueryCost(
        ts=T0,
        request_id=f"req-{i}",
        key_id="anonymous",
        backend="openai",
        model="gpt-4o-mini",
        endpoint="ask",
        prompt_tokens=100,
        completion_tokens=20,
        tokens_exact=True,
        embed_tokens=8,
        cost_usd=0.001,
        cache="miss",
        saved_usd=0.0,
        embed_ms=5.0,
        retrieve_ms=3.0,
        generate_ms=400.0,
        total_ms=410.0,
        index_version="v1",
        degraded=False,
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def count_rows(led: SqlCostLedger) -> int:
    with led.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(led.queries)).scalar_one())


def test_concurrent_records_are_all_written(ledger: SqlCostLedger) -> None:
    barrier = threading.Barrier(50)

    def record(i: int) -> None:
        barrier.wait()
        ledger.record(row(i))

    threads = [threading.Thread(target=record, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.flush(timeout_s=10)
    assert count_rows(ledger) == 50
    with ledger.engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.select(ledger.queries.c.request_id))}
    assert ids == {f"req-{i}" for i in range(50)}
    assert ledger.dropped == 0


def test_a_bad_row_does_not_take_its_batch_down(ledger: SqlCostLedger) -> None:
    ledger.record(row(1))
    ledger.record(row(2, prompt_tokens=2**70))  # too large for the column on both databases
    ledger.record(row(3))
    assert ledger.flush(timeout_s=10)
    assert count_rows(ledger) == 2
    assert ledger.dropped == 1
    ledger.record(row(4))  # the writer thread is still alive
    assert ledger.flush()
    assert count_rows(ledger) == 3
    with pytest.raises(TypeError, match="record\\(\\) takes a QueryCost, got dict"):
        ledger.record({"request_id": "x"})  # type: ignore[arg-type]


def test_record_round_trips_every_field(ledger: SqlCostLedger) -> None:
    original = row(1, tokens_exact=False, degraded=True, cache="semantic", saved_usd=0.002)
    ledger.record(original)
    assert ledger.flush()
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(ledger.queries)).one()._asdict()
    stored.pop("id")
    assert stored["ts"].replace(tzinfo=stored["ts"].tzinfo or UTC) == T0
    stored["ts"] = T0
    assert stored == {f: getattr(original, f) for f in stored}


def test_summary_groups_by_day_model_and_key(ledger: SqlCostLedger) -> None:
    day2 = T0 + timedelta(hours=1)  # 2026-03-02 00:30 UTC
    rows = [
        row(1, total_ms=100.0),
        row(2, cache="hit", cost_usd=0.0, prompt_tokens=0, completion_tokens=0, saved_usd=0.001, total_ms=10.0),
        row(3, ts=day2, model="llama", backend="local", key_id="k-abc", cost_usd=0.0, total_ms=300.0),
        row(4, ts=day2, cache="semantic", key_id="k-abc", cost_usd=0.0, saved_usd=0.004, total_ms=20.0),
    ]  # fmt: skip
    for r in rows:
        ledger.record(r)
    assert ledger.flush()

    everything = ledger.summary()
    totals = everything["totals"]
    assert totals["queries"] == 4
    assert totals["prompt_tokens"] == 300 and totals["completion_tokens"] == 60
    assert totals["cost_usd"] == pytest.approx(0.001)
    assert totals["saved_usd"] == pytest.approx(0.005)
    assert totals["cache_hits"] == 2 and totals["semantic_hits"] == 1
    assert totals["cache_hit_rate"] == 0.5
    assert totals["avg_total_ms"] == pytest.approx(107.5)
    assert totals["p50_total_ms"] == pytest.approx(60.0)
    assert everything["groups"] == {}

    by_day = ledger.summary(by="day")["groups"]
    assert list(by_day) == ["2026-03-01", "2026-03-02"]
    assert by_day["2026-03-01"]["queries"] == 2
    assert by_day["2026-03-02"]["saved_usd"] == pytest.approx(0.004)

    by_model = ledger.summary(by="model")["groups"]
    assert {k: v["queries"] for k, v in by_model.items()} == {"gpt-4o-mini": 3, "llama": 1}
    assert by_model["llama"]["cost_usd"] == 0.0

    by_key = ledger.summary(by="key")["groups"]
    assert {k: v["queries"] for k, v in by_key.items()} == {"anonymous": 2, "k-abc": 2}
    assert by_key["k-abc"]["cache_hit_rate"] == 0.5

    recent = ledger.summary(since=day2, by="model")
    assert recent["totals"]["queries"] == 2
    assert recent["since"] == day2.isoformat()
    assert ledger.summary(since=day2 + timedelta(days=1))["totals"]["queries"] == 0


def test_builds_are_recorded_and_summed(ledger: SqlCostLedger) -> None:
    ledger.record_build(
        "v1",
        embed_tokens=12000,
        chunks_embedded=300,
        chunks_reused=0,
        seconds=12.5,
        model="all-MiniLM-L6-v2",
    )
    ledger.record_build("v2", embed_tokens=800, chunks_embedded=20, chunks_reused=280, seconds=1.5, model="all-MiniLM-L6-v2")  # fmt: skip
    builds = ledger.summary()["builds"]
    assert builds == {"count": 2, "embed_tokens": 12800, "cost_usd": 0.0}


def test_close_flushes_what_is_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    led = SqlCostLedger(url)
    for i in range(1200):  # more than two batches
        led.record(row(i))
    led.close()
    again = SqlCostLedger(url)
    try:
        assert count_rows(again) == 1200
        again.record(row(9999))
    finally:
        again.close()
    again.record(row(10000))  # after close: written synchronously, not lost
    third = SqlCostLedger(url)
    assert count_rows(third) == 1202
    third.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    led = SqlCostLedger(f"sqlite:///{tmp_path}/wal.db")
    with led.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    led.close()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "invalid database URL 'not a url'"),
        ("nosuchdb://x/y", "unsupported database URL 'nosuchdb://x/y'"),
        ("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test", "127.0.0.1:1"),
    ],
)
def test_bad_url_is_a_clear_config_error(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        SqlCostLedger(url)
    assert fragment in str(info.value)
    assert "hunter2" not in str(info.value)


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"table_prefix .* got 'Bad-'"):
        SqlCostLedger(f"sqlite:///{tmp_path}/x.db", table_prefix="Bad-")
    led = SqlCostLedger(f"sqlite:///{tmp_path}/y.db")
    with pytest.raises(ValueError, match="got 'week'"):
        led.summary(by="week")  # type: ignore[arg-type]
    led.close()
