"""Study coach: learners, quizzes, cards and questions asked per phase.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The coach's tables are not prefixed: one database holds one coach, whatever ledger
prefix the run uses (the prefix exists for the ledger's tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.migrations.helpers import has_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    if not has_table("coach_learners"):
        op.create_table(
            "coach_learners",
            sa.Column("learner_id", sa.String(32), primary_key=True),
            sa.Column("created_at", _TS, nullable=False),
        )
    if not has_table("coach_quizzes"):
        op.create_table(
            "coach_quizzes",
            sa.Column("quiz_id", sa.String(32), primary_key=True),
            sa.Column("learner_id", sa.String(64), nullable=False, index=True),
            sa.Column("index_version", sa.String(64), nullable=False),
            sa.Column("created_at", _TS, nullable=False),
            sa.Column("questions", sa.Text, nullable=False),
            sa.Column("answered_at", _TS, nullable=True),
        )
    if not has_table("coach_cards"):
        op.create_table(
            "coach_cards",
            sa.Column("learner_id", sa.String(64), primary_key=True),
            sa.Column("question_id", sa.String(32), primary_key=True),
            sa.Column("phase", sa.Integer, nullable=True),
            sa.Column("topic", sa.String(200), nullable=False),
            sa.Column("card", sa.Text, nullable=False),
            sa.Column("due", _TS, nullable=False, index=True),
            sa.Column("last_correct", sa.Boolean, nullable=False),
            sa.Column("reviews", sa.Integer, nullable=False),
            sa.Column("updated_at", _TS, nullable=False),
        )
    if not has_table("coach_asked"):
        op.create_table(
            "coach_asked",
            sa.Column("learner_id", sa.String(64), primary_key=True),
            sa.Column("phase", sa.Integer, primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
        )


def downgrade() -> None:
    for name in ("coach_asked", "coach_cards", "coach_quizzes", "coach_learners"):
        op.drop_table(name)
