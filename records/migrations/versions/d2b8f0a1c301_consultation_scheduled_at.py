"""when a consultation was first scheduled, and the index the activity figures read by

Revision ID: d2b8f0a1c301
Revises: c1a0e5b7d203
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd2b8f0a1c301'
down_revision: str | Sequence[str] | None = 'c1a0e5b7d203'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision (existing rows keep an unknown scheduling time)."""
    with op.batch_alter_table('consultation', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_consultation_requesting_created', 'consultation',
        ['requesting_facility_id', 'created_at'], unique=False,
    )
    op.create_index('ix_consultation_created', 'consultation', ['created_at'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_consultation_created', table_name='consultation')
    op.drop_index('ix_consultation_requesting_created', table_name='consultation')
    with op.batch_alter_table('consultation', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('scheduled_at')
