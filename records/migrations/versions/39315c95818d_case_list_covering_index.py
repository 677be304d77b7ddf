"""case list covering index

Revision ID: 39315c95818d
Revises: b7c1e2d3a4f5
Create Date: 2026-11-29 12:05:39.185918
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '39315c95818d'
down_revision: str | Sequence[str] | None = 'b7c1e2d3a4f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('clinical_case', schema=None) as batch_op:
        batch_op.create_index(
            'ix_clinical_case_facility_list',
            ['facility_id', 'updated_at', 'created_at', 'patient_id', 'id'],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('clinical_case', schema=None) as batch_op:
        batch_op.drop_index('ix_clinical_case_facility_list')
