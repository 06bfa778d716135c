"""Schema migrations of the ledger database (Alembic), run once under a lock at start-up.

Every process that opens the database calls ``upgrade_schema``; the first one takes the
lock (a PostgreSQL advisory lock held by its migration transaction, or a file lock next
to a SQLite file), upgrades to the newest revision and commits; the others wait for the
lock, then find the database at head and do nothing. So replicas starting together on an
empty database all come up.

Later features (learner progress, conversations, feedback) add their tables as new files
in ``versions/`` (``down_revision`` = the current head); no table is created any other
way. Table names take the caller's prefix from ``table_prefix()`` (tests use private
tables); the revision table is ``<prefix>alembic_version``.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SQLITE_LOCK_TIMEOUT_S = 120.0  # another process migrating a SQLite file: wait this long


def _config(connection: sa.Connection, prefix: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    cfg.attributes["table_prefix"] = prefix
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory(str(HERE)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine, prefix: str = "") -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": f"{prefix}alembic_version"})
        return ctx.get_current_revision()


def _advisory_key(prefix: str) -> int:
    # One lock per table set; a signed 64-bit key as pg_advisory_xact_lock wants.
    digest = hashlib.sha256(f"assistant-migrations:{prefix}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _sqlite_lock(engine: sa.Engine) -> AbstractContextManager[object]:
    database = engine.url.database or ""
    if database in ("", ":memory:"):
        return nullcontext()  # one process owns an in-memory database
    return FileLock(f"{Path(database).expanduser()}.migrate.lock", timeout=SQLITE_LOCK_TIMEOUT_S)


def upgrade_schema(engine: sa.Engine, prefix: str = "") -> None:
    """Bring the database to the newest revision, once, safely under concurrent start-up."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Held until this transaction commits: DDL and the revision stamp are one unit.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_advisory_key(prefix))))
            command.upgrade(_config(conn, prefix), "head")
        return
    with _sqlite_lock(engine), engine.begin() as conn:
        command.upgrade(_config(conn, prefix), "head")
