"""What every SQL-backed store shares: engine, SQLite tuning, sessions, error translation.

The document registry, the API keys and the feedback live in the same database (SQLite by
default, PostgreSQL by URL), each with its own tables; they open it the same way, which
brings its schema to the newest migration first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import RegistryError
from store.schema import display_url, head_revision, upgrade_schema


class SqlStore:
    """A SQLAlchemy engine on a database at the newest schema revision, and transactional
    sessions whose database errors become ``RegistryError`` (retryable) naming the store.

    ``metadata`` holds the store's tables; the migrations create them (``store.schema``),
    and opening checks that they did, so a model added without a migration fails here, clearly.
    """

    def __init__(self, url: str, metadata: MetaData, name: str) -> None:
        self._name = name
        try:
            self._engine = create_engine(url)
        except SQLAlchemyError as e:
            raise RegistryError(f"cannot open the {name} at {display_url(url)}: {e}") from e
        try:
            if self._engine.dialect.name == "sqlite":
                event.listen(self._engine, "connect", _tune_sqlite)
            upgrade_schema(self._engine)
            _check_tables(self._engine, metadata, name)
        except BaseException:
            self._engine.dispose()
            raise
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as e:
            raise RegistryError(f"{self._name} operation failed: {e}", retryable=True) from e


def _check_tables(engine: Engine, metadata: MetaData, name: str) -> None:
    try:
        existing = set(inspect(engine).get_table_names())
    except SQLAlchemyError as e:
        raise RegistryError(f"cannot open the {name} at {display_url(engine.url)}: {e}") from e
    missing = sorted(set(metadata.tables) - existing)
    if missing:
        raise RegistryError(
            f"the {name}'s tables {', '.join(missing)} are missing at "
            f"{display_url(engine.url)} at schema revision {head_revision()}: "
            "no migration in store/migrations/versions creates them"
        )


def _tune_sqlite(connection: Any, _record: object) -> None:
    # WAL lets readers (docs list) run beside a writer; NORMAL sync is durable across process
    # crashes and only risks the last commit on power loss, which the next sync run repairs.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
