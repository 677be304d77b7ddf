"""invitation answers and the reminder before a session

Revision ID: c1a0e5b7d202
Revises: c1a0e5b7d201
Create Date: 2026-12-07 03:30:00

Columns are added and dropped in place (recreate='never'): rebuilding a table that other
tables reference fails on SQLite once rows point at it (SQLite >= 3.35 drops columns itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c1a0e5b7d202'
down_revision: str | Sequence[str] | None = 'c1a0e5b7d201'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('consultation', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('participant', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('response', sa.String(length=20), nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('response_reason', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('participant', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('responded_at')
        batch_op.drop_column('response_reason')
        batch_op.drop_column('response')

    with op.batch_alter_table('consultation', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('reminded_at')
