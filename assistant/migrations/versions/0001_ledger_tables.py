"""Cost ledger: query_costs and build_costs.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Databases created before migrations (``create_all``) already hold these tables: they
are adopted as they are and stamped at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.migrations.helpers import has_table, table_prefix

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    p = table_prefix()
    if not has_table(f"{p}query_costs"):
        op.create_table(
            f"{p}query_costs",
            sa.Column("id", _ID, primary_key=True),
            sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
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
        op.create_index(f"ix_{p}query_costs_ts", f"{p}query_costs", ["ts"])
    if not has_table(f"{p}build_costs"):
        op.create_table(
            f"{p}build_costs",
            sa.Column("id", _ID, primary_key=True),
            sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
            sa.Column("version", sa.Text, nullable=False),
            sa.Column("model", sa.Text, nullable=False),
            sa.Column("embed_tokens", sa.BigInteger, nullable=False),
            sa.Column("chunks_embedded", sa.Integer, nullable=False),
            sa.Column("chunks_reused", sa.Integer, nullable=False),
            sa.Column("seconds", sa.Float, nullable=False),
            sa.Column("cost_usd", sa.Float, nullable=False),
        )
        op.create_index(f"ix_{p}build_costs_ts", f"{p}build_costs", ["ts"])


def downgrade() -> None:
    p = table_prefix()
    op.drop_table(f"{p}build_costs")
    op.drop_table(f"{p}query_costs")
