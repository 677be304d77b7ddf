"""patient identity as the forms ask (ethnicity, occupation, citizen ID); department and bed

Revision ID: d4e1a9c2b701
Revises: d4e5f6a7b801
Create Date: 2026-12-07 05:30:00

Every new column is nullable and starts empty on existing rows: what was not recorded stays
unknown, nothing is guessed. Columns are added and dropped in place (recreate='never'), as in
c1a0e5b7d202.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd4e1a9c2b701'
down_revision: str | Sequence[str] | None = 'd4e5f6a7b801'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('patient', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('ethnicity', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('occupation', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('citizen_id', sa.String(length=12), nullable=True))

    with op.batch_alter_table('clinical_case', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('department', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('bed', sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('clinical_case', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('bed')
        batch_op.drop_column('department')

    with op.batch_alter_table('patient', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('citizen_id')
        batch_op.drop_column('occupation')
        batch_op.drop_column('ethnicity')
