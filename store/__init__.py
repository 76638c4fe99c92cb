"""Persistence: the SQLAlchemy base store, the schema, the Alembic migrations and the stores
for API keys, feedback and the answer log. It imports only ``core``; ``ingest`` and ``api``
build on it."""
