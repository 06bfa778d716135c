"""The ledger's engine (SQLite tuned for concurrent writers, or PostgreSQL) and its tables."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from assistant.errors import ConfigError
from assistant.extras import require

logger = logging.getLogger(__name__)

PG_CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_MS = 5000  # wait this long for another writer's lock before failing
_PREFIX = re.compile(r"^[a-z_][a-z0-9_]*$|^$")


def create_ledger_engine(url: str) -> sa.Engine:
    """An engine for ``url``; ConfigError (naming the URL, password hidden) when it is bad."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url.split('@')[-1]!r}: {exc}") from exc
    shown = parsed.render_as_string(hide_password=True)
    # Plain postgresql:// would pick psycopg2, which we do not ship; psycopg 3 is the driver.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "postgresql+psycopg":
        require("psycopg", "postgres", f"the database URL {shown!r}")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql":
        # A server that accepts and then says nothing must not hang the writer forever.
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            # One shared connection, or each thread would see its own empty database.
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder of the ledger {shown!r}: {exc}"
                ) from exc
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"unsupported database URL {shown!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _tune_sqlite)
    elif engine.dialect.name != "postgresql":
        logger.warning(
            "cost ledger on %s is untested; SQLite and PostgreSQL are", engine.dialect.name
        )
    return engine


def _tune_sqlite(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers (summary) run while the writer thread inserts.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ledger_tables(prefix: str = "") -> tuple[sa.MetaData, sa.Table, sa.Table]:
    """(metadata, query_costs, build_costs); ``prefix`` lets tests use private tables."""
    if not _PREFIX.match(prefix):
        raise ConfigError(f"table_prefix must be lower-case letters, digits and _, got {prefix!r}")
    metadata = sa.MetaData()
    queries = sa.Table(
        f"{prefix}query_costs",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("backend", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("tokens_exact", sa.Boolean, nullable=False),
        sa.Column("embed_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("cache", sa.Text, nullable=False),
        sa.Column("saved_usd", sa.Float, nullable=False),
        sa.Column("embed_ms", sa.Float, nullable=False),
        sa.Column("retrieve_ms", sa.Float, nullable=False),
        sa.Column("generate_ms", sa.Float, nullable=False),
        sa.Column("total_ms", sa.Float, nullable=False),
        sa.Column("index_version", sa.Text, nullable=False),
        sa.Column("degraded", sa.Boolean, nullable=False),
    )
    builds = sa.Table(
        f"{prefix}build_costs",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("embed_tokens", sa.BigInteger, nullable=False),
        sa.Column("chunks_embedded", sa.Integer, nullable=False),
        sa.Column("chunks_reused", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
    )
    return metadata, queries, builds
