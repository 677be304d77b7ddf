"""minutes on the Ministry of Health's form: number, place, times, connection points, secretary,
conclusions per question, ICD-10 codes, the patient block, confirmations, versions, the PDF;
the governing body a facility prints above its name

Revision ID: e5f2b0d3c802
Revises: d4e1a9c2b701
Create Date: 2026-12-07 05:40:00

Existing minutes keep their text and become version 1 with empty new fields: nothing is guessed.
The one-minutes-per-case constraint gives way to one per case and version (amendments are new
versions), which SQLite can only do by rebuilding the table. Rows of other tables that point
at minutes (outcomes) would stop the old table being dropped, so on SQLite they are set aside
for the rebuild and put back after it, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e5f2b0d3c802'
down_revision: str | Sequence[str] | None = 'd4e1a9c2b701'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")
_EMPTY_OBJECT = sa.text("'{}'")


def _referrers() -> list[str]:
    """The other tables whose foreign keys point at minutes (SQLite only; else none)."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return []
    inspector = sa.inspect(bind)
    return [
        table
        for table in inspector.get_table_names()
        if table != 'minutes'
        and any(fk['referred_table'] == 'minutes' for fk in inspector.get_foreign_keys(table))
    ]


def _set_aside(tables: list[str]) -> None:
    for table in tables:
        op.execute(f'CREATE TEMP TABLE "_keep_{table}" AS SELECT * FROM "{table}"')
        op.execute(f'DELETE FROM "{table}"')


def _put_back(tables: list[str]) -> None:
    for table in reversed(tables):
        op.execute(f'INSERT INTO "{table}" SELECT * FROM "_keep_{table}"')
        op.execute(f'DROP TABLE "_keep_{table}"')


def upgrade() -> None:
    """Apply this revision."""
    referrers = _referrers()
    _set_aside(referrers)
    op.create_table('minutes_counter',
    sa.Column('facility_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.PrimaryKeyConstraint('facility_id', 'year')
    )
    with op.batch_alter_table('facility', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('governing_body', sa.String(length=200), nullable=True))

    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('supersedes_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('facility_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('number_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('number_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('connection_points', sa.JSON(), nullable=False, server_default=_EMPTY_LIST))
        batch_op.add_column(sa.Column('conclusions', sa.JSON(), nullable=False, server_default=_EMPTY_LIST))
        batch_op.add_column(sa.Column('icd10_codes', sa.JSON(), nullable=False, server_default=_EMPTY_LIST))
        batch_op.add_column(sa.Column('patient_block', sa.JSON(), nullable=False, server_default=_EMPTY_OBJECT))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('secretary_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('chair_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('secretary_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pdf_attachment_id', sa.Uuid(), nullable=True))
        batch_op.drop_constraint('uq_minutes_case', type_='unique')
        batch_op.create_unique_constraint('uq_minutes_number', ['facility_id', 'number_year', 'number_seq'])
        batch_op.create_unique_constraint('uq_minutes_version', ['consultation_id', 'case_id', 'version'])
        batch_op.create_foreign_key('fk_minutes_pdf_attachment', 'attachment', ['pdf_attachment_id'], ['id'])
        batch_op.create_foreign_key('fk_minutes_supersedes', 'minutes', ['supersedes_id'], ['id'])
        batch_op.create_foreign_key('fk_minutes_facility', 'facility', ['facility_id'], ['id'])
        batch_op.create_foreign_key('fk_minutes_secretary', 'app_user', ['secretary_id'], ['id'])
    _put_back(referrers)


def downgrade() -> None:
    """Revert this revision.

    The old schema holds one set of minutes per case: amendments (version > 1) cannot be kept.
    """
    referrers = _referrers()
    _set_aside(referrers)
    op.execute("DELETE FROM minutes WHERE version > 1")
    with op.batch_alter_table('minutes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_minutes_secretary', type_='foreignkey')
        batch_op.drop_constraint('fk_minutes_facility', type_='foreignkey')
        batch_op.drop_constraint('fk_minutes_supersedes', type_='foreignkey')
        batch_op.drop_constraint('fk_minutes_pdf_attachment', type_='foreignkey')
        batch_op.drop_constraint('uq_minutes_version', type_='unique')
        batch_op.drop_constraint('uq_minutes_number', type_='unique')
        batch_op.create_unique_constraint('uq_minutes_case', ['consultation_id', 'case_id'])
        batch_op.drop_column('pdf_attachment_id')
        batch_op.drop_column('secretary_confirmed_at')
        batch_op.drop_column('chair_confirmed_at')
        batch_op.drop_column('secretary_id')
        batch_op.drop_column('reason')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('patient_block')
        batch_op.drop_column('icd10_codes')
        batch_op.drop_column('conclusions')
        batch_op.drop_column('connection_points')
        batch_op.drop_column('number_seq')
        batch_op.drop_column('number_year')
        batch_op.drop_column('facility_id')
        batch_op.drop_column('supersedes_id')
        batch_op.drop_column('version')
        batch_op.drop_column('place')
    _put_back(referrers)

    op.drop_table('minutes_counter')

    with op.batch_alter_table('facility', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('governing_body')
