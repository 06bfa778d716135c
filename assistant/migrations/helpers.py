"""What revisions share: the table prefix of the run, and adopting pre-Alembic tables."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op


def table_prefix() -> str:
    """The prefix ``upgrade_schema`` was called with ("" in production)."""
    return str(context.config.attributes.get("table_prefix", ""))


def has_table(name: str) -> bool:
    """True when ``name`` already exists (a database created before migrations existed)."""
    return sa.inspect(op.get_bind()).has_table(name)
