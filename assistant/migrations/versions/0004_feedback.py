"""Learners' feedback: the feedback table, and an index to find a request's ledger row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

The feedback table takes the ledger's prefix: a rating is checked against the
``query_costs`` rows of the same prefix.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.feedback import feedback_tables
from assistant.ledger_db import ledger_tables
from assistant.migrations.helpers import has_table, table_prefix

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The table and index as ``feedback_tables`` defines them (one definition).
    prefix = table_prefix()
    metadata, queries, _ = ledger_tables(prefix)
    feedback, lookup = feedback_tables(metadata, queries, prefix)
    if not has_table(feedback.name):
        feedback.create(op.get_bind())
    existing = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(queries.name)}
    if lookup.name not in existing:
        lookup.create(op.get_bind())


def downgrade() -> None:
    p = table_prefix()
    op.drop_index(f"ix_{p}query_costs_request_key", table_name=f"{p}query_costs")
    op.drop_table(f"{p}feedback")
