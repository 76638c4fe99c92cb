"""``citewise models``: the shipped GGUF models, and where their assembled files are."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api import composition
from api.cli.support import ConfigOption, fail, load_settings
from core.errors import CitewiseError
from generation.model_catalog import CATALOG
from generation.model_store import installed_models, resolve_model_path

models_app = typer.Typer(help="The language models Citewise ships.", no_args_is_help=True)
out = Console(soft_wrap=True)


@models_app.command("list")
def models_list(config: ConfigOption = None) -> None:
    """Each shipped model: installed or not, assembled or not, and which one is configured."""
    settings = load_settings(config)
    installed = {m.name for m in installed_models()}
    cache = composition.gguf_store_dir(settings)
    table = Table("model", "installed", "assembled", "description")
    for model in CATALOG.values():
        name = model.name + (" (configured)" if model.name == settings.llm.model else "")
        table.add_row(
            name,
            "yes" if model.name in installed else f"no: {model.install_hint}",
            "yes" if (cache / model.file_name).is_file() else "no",
            model.description,
        )
    out.print(table)


@models_app.command("path")
def models_path(
    name: Annotated[str | None, typer.Argument(help="Model name (default: configured).")] = None,
    config: ConfigOption = None,
) -> None:
    """Assemble the model if needed (verifying its sha256) and print its GGUF path."""
    settings = load_settings(config)
    try:
        path = resolve_model_path(name or settings.llm.model, composition.gguf_store_dir(settings))
    except CitewiseError as e:
        raise fail(e) from e
    print(path.resolve())  # plain stdout, for scripts
