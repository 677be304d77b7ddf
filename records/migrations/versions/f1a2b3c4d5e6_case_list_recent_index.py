"""case list: a facility's cases by their last change

Revision ID: f1a2b3c4d5e6
Revises: e5f2b0d3c802
Create Date: 2026-12-07 14:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1a2b3c4d5e6"
down_revision: str | Sequence[str] | None = "e5f2b0d3c802"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # The case list's order as an index: a page of a facility's cases reads twenty entries
    # instead of ranking all of them. An expression index, so the models leave it to this
    # revision (records.migrations.UNMODELLED_INDEXES).
    op.create_index(
        "ix_clinical_case_facility_recent",
        "clinical_case",
        ["facility_id", sa.text("coalesce(updated_at, created_at)"), "id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_clinical_case_facility_recent", table_name="clinical_case")
