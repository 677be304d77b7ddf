"""network test results and recording consents

Revision ID: b7c1e2d3a4f5
Revises: 56535ecf555f
Create Date: 2026-11-29 11:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7c1e2d3a4f5'
down_revision: str | Sequence[str] | None = '56535ecf555f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('network_test_result',
    sa.Column('rtt_ms', sa.Float(), nullable=True),
    sa.Column('jitter_ms', sa.Float(), nullable=True),
    sa.Column('loss_pct', sa.Float(), nullable=True),
    sa.Column('bitrate_kbps', sa.Float(), nullable=True),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('network_test_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_test_result_user_id'), ['user_id'],
                              unique=False)

    op.create_table('recording_consent',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('consultation_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('accept', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultation.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recording_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recording_consent_consultation_id'),
                              ['consultation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recording_consent_user_id'), ['user_id'],
                              unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('recording_consent')
    op.drop_table('network_test_result')
