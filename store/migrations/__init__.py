"""Alembic migrations of the SQL database, run by ``store.schema`` (no alembic.ini)."""
