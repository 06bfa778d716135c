"""Study coach: learners, quizzes, cards and questions asked per phase.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The coach's tables are not prefixed: one database holds one coach, whatever ledger
prefix the run uses (the prefix exists for the ledger's tables).
"""

from __future__ import annotations

from alembic import op

from assistant.coach.store import metadata as coach_metadata
from assistant.migrations.helpers import has_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables as ``assistant.coach.store`` defines them (one definition); a later change
    # comes with its own revision.
    for table in coach_metadata.sorted_tables:
        if not has_table(table.name):
            table.create(op.get_bind())


def downgrade() -> None:
    for name in ("coach_asked", "coach_cards", "coach_quizzes", "coach_learners"):
        op.drop_table(name)
