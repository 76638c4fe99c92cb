"""Alembic migrations of the SQL database, run by ``ingest.schema`` (no alembic.ini)."""
