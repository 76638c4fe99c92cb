"""Helpers shared by the ``citewise`` commands: settings loading and error exits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from core.errors import CitewiseError
from core.logging import configure_logging
from core.settings import Settings

err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
]
"""The ``--config`` option every command takes."""
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
"""The ``--json`` option of commands with machine-readable output."""


def load_settings(config: Path | None) -> Settings:
    """Settings from the YAML file (or $CITEWISE_CONFIG) and the environment; logging set up."""
    settings = Settings.load(config)
    configure_logging(settings.log_level)
    return settings


def split_values(values: Sequence[str] | None) -> tuple[str, ...]:
    """Values of a repeatable option, each of which may also be comma-separated."""
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


def fail(error: CitewiseError) -> typer.Exit:
    """Print a one-line error and return the exit (code 2) to raise."""
    err.print(f"[red]error:[/red] {escape(error.message)}")
    return typer.Exit(2)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turns a CitewiseError raised inside the block into the one-line error exit (``fail``),
    so a command's body reads as what it does: ``with exit_on_error(), closing(store) as s:``."""
    try:
        yield
    except CitewiseError as e:
        raise fail(e) from e


def progress_bar(*, quiet: bool = False) -> Progress:
    """The commands' progress bar on stderr: task description, bar, done/total, elapsed and
    remaining time; off when ``quiet`` or when stderr is not a terminal (logs, CI)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    )
