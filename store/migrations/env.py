"""Alembic environment for Citewise's SQL database, run programmatically by ``store.schema``.

There is no alembic.ini: the caller passes an open connection in
``config.attributes["connection"]``, inside the transaction (and lock) it holds. The model
modules are not imported on purpose: each migration spells out its own tables, so an old
migration keeps its meaning when a model changes later.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def run_migrations() -> None:
    """Run the pending migrations on the connection the caller passed in."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "Citewise migrations run through store.schema.upgrade_schema "
            "(or `citewise db upgrade`), which passes the connection"
        )
    context.configure(
        connection=connection,
        target_metadata=None,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations()
