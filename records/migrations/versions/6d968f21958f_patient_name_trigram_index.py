"""patient name trigram index

Revision ID: 6d968f21958f
Revises: 39315c95818d
Create Date: 2026-11-29 13:21:52.446431

Indexes for the patient search (``name_folded LIKE '%q%' OR mrn LIKE 'q%' OR insurance_number
LIKE 'Q%'``), per database, in forms the models cannot express (they are left out of the
comparison with the models in ``records/migrations/__init__.py``):

- PostgreSQL: a ``pg_trgm`` GIN index on ``name_folded``, which serves ``LIKE '%q%'`` directly,
  and ``varchar_pattern_ops`` B-trees on ``mrn`` and ``insurance_number`` for the prefixes, so
  the planner can OR the three index scans instead of reading every patient.
- SQLite: an FTS5 trigram table over ``name_folded`` with the patient table as its external
  content, kept in step by triggers, and ``COLLATE NOCASE`` indexes on ``mrn`` and
  ``insurance_number`` (SQLite's ``LIKE`` ignores ASCII case, so only a NOCASE index serves it).

The FTS5 rows are keyed by the patient's implicit rowid. A later migration that rebuilds
``patient`` on SQLite (batch mode copies the table) loses the triggers and may renumber the
rows: it must recreate the triggers and run ``INSERT INTO patient_fts(patient_fts) VALUES
('rebuild')``. The same holds after a ``VACUUM``, which may renumber rowids.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '6d968f21958f'
down_revision: str | Sequence[str] | None = '39315c95818d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = (
    "CREATE VIRTUAL TABLE patient_fts USING fts5("
    "name_folded, content='patient', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER patient_fts_ai AFTER INSERT ON patient BEGIN "
    "INSERT INTO patient_fts(rowid, name_folded) VALUES (new.rowid, new.name_folded); END",
    "CREATE TRIGGER patient_fts_ad AFTER DELETE ON patient BEGIN "
    "INSERT INTO patient_fts(patient_fts, rowid, name_folded) "
    "VALUES ('delete', old.rowid, old.name_folded); END",
    "CREATE TRIGGER patient_fts_au AFTER UPDATE OF name_folded ON patient BEGIN "
    "INSERT INTO patient_fts(patient_fts, rowid, name_folded) "
    "VALUES ('delete', old.rowid, old.name_folded); "
    "INSERT INTO patient_fts(rowid, name_folded) VALUES (new.rowid, new.name_folded); END",
    # Index the patients already there.
    "INSERT INTO patient_fts(patient_fts) VALUES ('rebuild')",
    "CREATE INDEX ix_patient_mrn_prefix ON patient (mrn COLLATE NOCASE)",
    "CREATE INDEX ix_patient_insurance_number_prefix ON patient (insurance_number COLLATE NOCASE)",
)
_SQLITE_DOWN = (
    "DROP INDEX IF EXISTS ix_patient_insurance_number_prefix",
    "DROP INDEX IF EXISTS ix_patient_mrn_prefix",
    "DROP TRIGGER IF EXISTS patient_fts_au",
    "DROP TRIGGER IF EXISTS patient_fts_ad",
    "DROP TRIGGER IF EXISTS patient_fts_ai",
    "DROP TABLE IF EXISTS patient_fts",
)


def _pg_trgm_schema(bind: sa.Connection) -> str:
    """The (quoted) schema holding pg_trgm, installing the extension if it is missing.

    A new installation goes to ``public`` when we may create there, not to the first schema of
    the search path: dropping a private schema (tests, benchmarks) would otherwise drop the
    extension, and with it the trigram indexes of every other schema of the database. Its
    operator class is then named with its schema, so a search path without it still works.
    """
    found = bind.execute(
        sa.text(
            "SELECT quote_ident(n.nspname) FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one_or_none()
    if found is not None:
        return str(found)
    target = bind.execute(
        sa.text(
            "SELECT quote_ident(coalesce((SELECT nspname FROM pg_namespace "
            "WHERE nspname = 'public' AND has_schema_privilege(oid, 'CREATE')), "
            "current_schema()))"
        )
    ).scalar_one()
    bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA {target}"))
    return str(target)


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
        return
    schema = _pg_trgm_schema(bind)
    op.execute(
        "CREATE INDEX ix_patient_name_folded_trgm ON patient "
        f"USING gin (name_folded {schema}.gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_patient_mrn_prefix ON patient (mrn varchar_pattern_ops)")
    op.execute(
        "CREATE INDEX ix_patient_insurance_number_prefix ON patient "
        "(insurance_number varchar_pattern_ops)"
    )


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_patient_insurance_number_prefix")
    op.execute("DROP INDEX IF EXISTS ix_patient_mrn_prefix")
    op.execute("DROP INDEX IF EXISTS ix_patient_name_folded_trgm")
    # The extension is shared by the whole database: keep it while anything else (another
    # schema's index) still uses it.
    op.execute(
        "DO $$ BEGIN DROP EXTENSION IF EXISTS pg_trgm; "
        "EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
    )
