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
import re
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from filelock import FileLock

if TYPE_CHECKING:  # Alembic is imported only when a migration may have to run
    from alembic.config import Config

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SQLITE_LOCK_TIMEOUT_S = 120.0  # another process migrating a SQLite file: wait this long


def _config(connection: sa.Connection, prefix: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    cfg.attributes["table_prefix"] = prefix
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(HERE)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine, prefix: str = "") -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

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


_REVISION = re.compile(r"""^revision\s*=\s*["'](\w+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:None|["'](\w+)["'])\s*$""", re.MULTILINE)


def declared_head() -> str | None:
    """The head revision read from ``versions/*.py`` without Alembic; None when unsure.

    A straight chain of revisions (each file one ``revision`` and one ``down_revision``)
    has one head; anything else (a merge, branches, an unusual file) gives None and the
    caller asks Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for f in (HERE / "versions").glob("*.py"):
        text = f.read_text(encoding="utf-8")
        rev = _REVISION.search(text)
        if rev is None:
            continue  # __init__.py
        down = _DOWN_REVISION.search(text)
        if down is None:
            return None
        revisions.add(rev.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: sa.Engine, prefix: str = "") -> bool:
    """Whether the database is already at the newest revision: one SELECT, no Alembic."""
    head = declared_head()
    if head is None:
        return False
    version_table = sa.table(f"{prefix}alembic_version", sa.column("version_num"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(version_table.c.version_num)).scalars().all()
    except sa.exc.SQLAlchemyError:
        return False  # no revision table yet: a real migration follows
    return list(rows) == [head]


def upgrade_schema(engine: sa.Engine, prefix: str = "") -> None:
    """Bring the database to the newest revision, once, safely under concurrent start-up."""
    # Every CLI command that records a cost opens the ledger: when nothing is to be done,
    # one SELECT answers (Alembic's import and its upgrade check cost ~0.3 s per process).
    if at_head(engine, prefix):
        return
    from alembic import command

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Held until this transaction commits: DDL and the revision stamp are one unit.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_advisory_key(prefix))))
            command.upgrade(_config(conn, prefix), "head")
        return
    with _sqlite_lock(engine), engine.begin() as conn:
        command.upgrade(_config(conn, prefix), "head")
