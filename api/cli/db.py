"""``citewise db``: the SQL database's schema revision, and upgrading it to the newest.

Stores upgrade the schema themselves when they open the database, which suits one process.
A scaled deployment (several API servers and workers on one PostgreSQL) runs
``citewise db upgrade`` once before rolling out a new version instead, so no server starts on
a schema it has to change under the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from api.cli.support import ConfigOption, JsonOption, fail, load_settings
from core.errors import CitewiseError, RegistryError
from store.schema import display_url, head_revision, schema_status, upgrade_schema

db_app = typer.Typer(help="The SQL database's schema (migrations).", no_args_is_help=True)
out = Console(soft_wrap=True)


T = TypeVar("T")


@db_app.command("current")
def db_current(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Show the database's schema revision and the newest this Citewise knows."""
    url, status = _with_engine(config, schema_status)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "url": url,
                    "current": status.current,
                    "head": status.head,
                    "up_to_date": status.up_to_date,
                }
            )
        )
        return
    state = "up to date" if status.up_to_date else "run `citewise db upgrade`"
    out.print(f"database: {escape(url)}")
    out.print(f"current:  {status.current or 'none (no schema yet)'}")
    out.print(f"head:     {status.head} ({escape(state)})")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database's schema to the newest revision (safe to run again, or at once)."""
    url, previous = _with_engine(config, upgrade_schema)
    head = head_revision()
    out.print(f"database: {escape(url)}")
    if previous == head:
        out.print(f"already at the newest revision {head}")
    else:
        out.print(f"upgraded from {previous or 'none (no schema yet)'} to {head}")


def _with_engine(config: Path | None, action: Callable[[Engine], T]) -> tuple[str, T]:
    # An engine of its own, not a store: opening a store would upgrade the schema already.
    try:
        settings = load_settings(config)
        url = settings.registry_url
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)  # where SQLite's file goes
            engine = create_engine(url)
        except (OSError, SQLAlchemyError) as e:
            raise RegistryError(f"cannot open the database at {display_url(url)}: {e}") from e
        try:
            return display_url(url), action(engine)
        finally:
            engine.dispose()
    except CitewiseError as e:
        raise fail(e) from e
