"""Stored conversations: conversations and conversation_turns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Like the coach's, these tables are not prefixed: one database holds one history,
whatever ledger prefix the run uses.
"""

from __future__ import annotations

from alembic import op

from assistant.conversation_db import metadata as conversation_metadata
from assistant.migrations.helpers import has_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables as ``assistant.conversation_db`` defines them (one definition); a later
    # change comes with its own revision.
    for table in conversation_metadata.sorted_tables:
        if not has_table(table.name):
            table.create(op.get_bind())


def downgrade() -> None:
    for name in ("conversation_turns", "conversations"):
        op.drop_table(name)
