"""Alembic migration scripts of the records schema."""
