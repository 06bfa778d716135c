"""Alembic environment: runs on the connection ``upgrade_schema`` hands over (no ini file)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
prefix = context.config.attributes.get("table_prefix", "")
context.configure(
    connection=connection,
    version_table=f"{prefix}alembic_version",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
