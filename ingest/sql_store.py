"""What every SQL-backed store shares: engine, SQLite tuning, sessions, error translation.

The document registry, the API keys and the feedback live in the same database (SQLite by
default, PostgreSQL by URL), each with its own tables; they open it the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import RegistryError


class SqlStore:
    """A SQLAlchemy engine with its tables created, and transactional sessions whose
    database errors become ``RegistryError`` (retryable) naming the store."""

    def __init__(self, url: str, metadata: MetaData, name: str) -> None:
        self._name = name
        try:
            self._engine = create_engine(url)
            if self._engine.dialect.name == "sqlite":
                event.listen(self._engine, "connect", _tune_sqlite)
            metadata.create_all(self._engine)
        except SQLAlchemyError as e:
            raise RegistryError(f"cannot open the {name} at {url}: {e}") from e
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


def _tune_sqlite(connection: Any, _record: object) -> None:
    # WAL lets readers (docs list) run beside a writer; NORMAL sync is durable across process
    # crashes and only risks the last commit on power loss, which the next sync run repairs.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
