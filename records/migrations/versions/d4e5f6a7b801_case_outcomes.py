"""Case outcomes: what happened after the consultation, and the overdue notice sent once.

Revision ID: d4e5f6a7b801
Revises: d2b8f0a1c301
Create Date: 2026-12-07 05:13:20.295931
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4e5f6a7b801"
down_revision: str | Sequence[str] | None = "d2b8f0a1c301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "case_outcome",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome_date", sa.Date(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("minutes_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["clinical_case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["minutes_id"],
            ["minutes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_outcome_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_outcome_minutes", ["consultation_id", "case_id"], unique=False
        )

    op.create_table(
        "outcome_reminder",
        sa.Column("minutes_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["minutes_id"],
            ["minutes.id"],
        ),
        sa.PrimaryKeyConstraint("minutes_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("outcome_reminder")
    with op.batch_alter_table("case_outcome", schema=None) as batch_op:
        batch_op.drop_index("ix_case_outcome_minutes")
        batch_op.drop_index(batch_op.f("ix_case_outcome_case_id"))

    op.drop_table("case_outcome")
