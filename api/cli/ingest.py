"""``citewise ingest``: parse, chunk, embed and index files and folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api import composition
from api.cli.support import ConfigOption, JsonOption, fail, load_settings, progress_bar
from core.errors import CitewiseError
from core.models import FileResult, IngestOutcome, IngestSummary

out = Console(soft_wrap=True)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    acl: Annotated[Path | None, typer.Option(help="ACL policy file (YAML).")] = None,
    prune: Annotated[bool, typer.Option(help="Purge documents whose file is gone.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Parse, chunk, embed and index documents; re-runs only redo what changed."""
    try:
        settings = load_settings(config)
        policy = composition.acl_policy(settings, acl)
        with composition.open_store(settings) as store:
            pipeline = composition.build_pipeline(settings, store)
            with progress_bar(quiet=as_json) as progress:
                task = progress.add_task("ingesting", total=None)

                def on_result(result: FileResult) -> None:
                    progress.advance(task)
                    if result.outcome is IngestOutcome.FAILED and not as_json:
                        progress.console.print(
                            f"[red]failed[/red] {_short(result.source_uri)}: {result.error}"
                        )

                summary = pipeline.run(
                    paths,
                    policy=policy,
                    prune=prune,
                    on_total=lambda n: progress.update(task, total=n),
                    on_result=on_result,
                )
    except CitewiseError as e:
        raise fail(e) from e
    if as_json:
        out.print_json(summary.model_dump_json())
    else:
        _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _print_summary(summary: IngestSummary) -> None:
    for result in summary.files:
        if result.outcome is IngestOutcome.SKIPPED:
            out.print(f"[yellow]skipped[/yellow] {_short(result.source_uri)}: {result.error}")
    out.print(
        f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"deleted {summary.deleted}, skipped {summary.skipped}, failed {summary.failed}; "
        f"{summary.chunks} chunks in {summary.seconds:.1f} s"
        + (
            f" ({summary.unsupported} files of unsupported types ignored)"
            if summary.unsupported
            else ""
        )
    )
    if summary.failed:
        out.print("[red]Failed files:[/red]")
        for result in summary.files:
            if result.outcome is IngestOutcome.FAILED:
                out.print(f"  {_short(result.source_uri)}: {result.error}")


def _short(uri: str) -> str:
    return uri.removeprefix("file://")
