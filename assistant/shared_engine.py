"""`SharedEngine`: one SQLAlchemy engine (connection pool) for every store of one database.

The cost ledger, the conversation log, the coach's store and the feedback store all live
in the ledger's database. The factory opens it once (``SharedEngine.open``: the engine and
the migrations) and hands the same object to each store. Each store takes a hold when it
is built and lets go when it closes; the last one to let go disposes the pool. So the
pool is disposed exactly once, whatever order the stores close in, and closing one store
never pulls the connections from under another still in use (on an in-memory SQLite
database, a dispose would even drop the data).

A store given a plain ``sa.Engine`` (``SharedEngine.of``) is its only holder: it owns the
engine and disposes it on close, as tests and scripts that build one store expect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa

from assistant.errors import ConfigError
from assistant.ledger_db import create_ledger_engine


class SharedEngine:
    """An engine held by several stores; disposed when the last of them lets go."""

    def __init__(self, engine: sa.Engine, url: str | None = None) -> None:
        self.engine = engine
        self.url = url  # the URL it was opened from (None: built from an engine)
        self.disposed = False
        self._holders = 0
        self._lock = threading.Lock()
        self._migrated: set[str] = set()  # table prefixes brought to the newest revision

    @classmethod
    def open(cls, url: str) -> SharedEngine:
        """The engine of ``url``, migrated; ConfigError (password hidden) when it fails."""
        shared = cls(create_ledger_engine(url), url)
        try:
            shared.migrate()
        except ConfigError:
            shared.engine.dispose()
            raise
        return shared

    @classmethod
    def of(cls, engine: sa.Engine | SharedEngine) -> SharedEngine:
        """``engine`` itself when shared; a plain engine becomes one its holder owns."""
        return engine if isinstance(engine, SharedEngine) else cls(engine)

    def migrate(self, prefix: str = "") -> None:
        """Bring the tables of ``prefix`` to the newest revision, once per prefix."""
        from assistant.migrations import upgrade_schema

        with self._lock:
            if prefix in self._migrated:
                return
            try:
                upgrade_schema(self.engine, prefix)
            except sa.exc.SQLAlchemyError as exc:
                shown = self.engine.url.render_as_string(hide_password=True)
                raise ConfigError(f"cannot open the ledger database at {shown!r}: {exc}") from exc
            self._migrated.add(prefix)

    def hold(self) -> Callable[[], None]:
        """Take a hold on the engine; what this returns lets go of it (later calls do nothing)."""
        with self._lock:
            if self.disposed:
                shown = self.engine.url.render_as_string(hide_password=True)
                raise ConfigError(f"the engine of {shown!r} is closed: open the database again")
            self._holders += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._holders -= 1
                last = self._holders == 0
                if last:
                    self.disposed = True
            if last:
                self.engine.dispose()

        return release
