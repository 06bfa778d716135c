"""Cost ledger: query_costs and build_costs.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Databases created before migrations (``create_all``) already hold these tables: they
are adopted as they are and stamped at this revision.
"""

from __future__ import annotations

from alembic import op

from assistant.ledger_db import ledger_tables
from assistant.migrations.helpers import has_table, table_prefix

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables as ``ledger_tables`` defines them (one definition, used by the ledger and
    # here). A later change to that definition must come with its own revision that alters
    # existing databases; this one only creates what is missing.
    _, queries, builds = ledger_tables(table_prefix())
    for table in (queries, builds):
        if not has_table(table.name):
            table.create(op.get_bind())


def downgrade() -> None:
    p = table_prefix()
    op.drop_table(f"{p}build_costs")
    op.drop_table(f"{p}query_costs")
