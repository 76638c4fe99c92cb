"""The SQL database's schema, kept by Alembic: read its revision, bring it to the newest one.

Every store opens the database through ``upgrade_schema``, so an embedded install upgrades
itself; an operator of a scaled deployment can run ``citewise db upgrade`` before rolling out
instead. The migrations live in ``store/migrations`` and are driven from here, without an
alembic.ini. A database made before migrations existed (tables, no ``alembic_version``) is
adopted by revision 0001, which creates only the tables it lacks.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from core.errors import RegistryError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
"""The Alembic script directory, shipped inside the package."""

# Key of the PostgreSQL advisory lock held while upgrading: "citewise" in ASCII, a constant
# every Citewise process agrees on and other applications are unlikely to pick.
_PG_LOCK_KEY = 0x63697465_77697365

# Alembic's ``context`` and ``op`` are process-wide proxies, so two threads must not run
# migrations at once, even on different databases. The database locks order processes.
_UPGRADING = threading.Lock()


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands: its revision (None: no schema yet) and the newest."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the newest revision."""
        return self.current == self.head


def display_url(url: str | URL) -> str:
    """The database URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)  # not a URL SQLAlchemy can parse: nothing to mask reliably


def head_revision() -> str:
    """The newest revision this version of Citewise knows."""
    return _revisions()[0]


def schema_status(engine: Engine) -> SchemaStatus:
    """The database's current revision and the newest; RegistryError if it cannot be read."""
    try:
        with engine.connect() as conn:
            return SchemaStatus(_current(conn), head_revision())
    except (SQLAlchemyError, CommandError) as e:
        raise RegistryError(
            f"cannot read the schema revision of the database at {display_url(engine.url)} "
            f"(check the registry URL and that the database is reachable): {_reason(e)}"
        ) from e


def upgrade_schema(engine: Engine) -> str | None:
    """Bring the database to the newest revision; return the revision it was at before.

    Cheap when nothing is to do (one read of ``alembic_version``). Otherwise the upgrade runs
    in one transaction holding a lock, so processes starting at once do not race: on
    PostgreSQL an advisory lock, on SQLite the database's write lock (``BEGIN IMMEDIATE``);
    within a process, a thread lock. The one that waited finds the work done.

    Raises RegistryError when the database cannot be upgraded, or is at a revision this
    version of Citewise does not know.
    """
    status = schema_status(engine)
    _check_known(status.current, engine)
    if status.up_to_date:
        return status.current
    try:
        with _UPGRADING, engine.begin() as conn:
            _lock(conn)
            current = _current(conn)  # again: another process may have upgraded meanwhile
            _check_known(current, engine)
            if current != status.head:
                log.info(
                    "upgrading the database schema",
                    extra={"url": display_url(engine.url), "from": current, "to": status.head},
                )
                config = _config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except (SQLAlchemyError, CommandError) as e:
        raise RegistryError(
            f"cannot upgrade the database at {display_url(engine.url)} to schema revision "
            f"{status.head} (check that it is reachable and that its user may create and alter "
            f"tables, then run `citewise db upgrade`): {_reason(e)}"
        ) from e
    return current


def _reason(error: Exception) -> str:
    # The driver's own message on one line, without SQLAlchemy's statement and link.
    return " ".join(str(getattr(error, "orig", None) or error).split())


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _check_known(current: str | None, engine: Engine) -> None:
    if current is not None and current not in _revisions():
        raise RegistryError(
            f"the database at {display_url(engine.url)} is at schema revision {current}, "
            f"which this version of Citewise does not know (newest: {head_revision()}): it "
            "was upgraded by a newer Citewise. Run that version, or restore a backup."
        )


def _lock(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Released by the transaction's end, also when the process dies.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        # The sqlite3 driver runs DDL outside any transaction unless told otherwise. An
        # explicit BEGIN IMMEDIATE makes the whole upgrade atomic and takes the write lock
        # now, so a second opener waits (busy timeout) instead of creating the same tables.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _config() -> Config:
    config = Config()
    # configparser would read "%" as interpolation
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


@cache
def _revisions() -> tuple[str, ...]:
    # Newest first; read once per process (it imports the migration files).
    script = ScriptDirectory.from_config(_config())
    heads = script.get_heads()
    if len(heads) != 1:  # two migrations with the same down_revision: a merge is missing
        raise RegistryError(f"the migrations have {len(heads)} heads, need 1: {heads}")
    return tuple(s.revision for s in script.walk_revisions())
