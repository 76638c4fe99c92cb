"""``citewise ask``: a grounded, cited answer as a given principal may know it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from api import composition
from api.cli_support import err, fail, load_settings, split_values
from core.errors import CitewiseError
from core.models import Principal
from core.settings import Settings
from generation.answer import DeltaEvent, FinalEvent, SourcesEvent
from generation.model_store import ProgressCallback
from generation.models import Answer
from retrieval.context import Source

out = Console(soft_wrap=True)


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    user: Annotated[str, typer.Option("--user", help="Ask as this user id.")] = "cli",
    groups: Annotated[
        list[str] | None,
        typer.Option("--groups", "--group", help="The user's groups (repeat or comma-separate)."),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print the answer as it is written.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
    ] = None,
) -> None:
    """Answer from the documents the principal may read, citing [n] sources, or say it
    can't find the answer."""
    if not question.strip():
        err.print("[red]error:[/red] the question is empty")
        raise typer.Exit(2)
    try:
        settings: Settings = load_settings(config)
        principal = Principal(
            user_id=user,
            groups=split_values(groups),
            tenant=settings.tenant,
        )
        with _assembly_progress() as progress:
            generator = composition.build_generator(settings, progress)
        with composition.open_store(settings) as store:
            service = composition.build_answer_service(settings, store.index, generator=generator)
            if stream and not as_json:
                answer = _stream(service.stream(question, principal))
            else:
                answer = service.answer(question, principal)
    except CitewiseError as e:
        raise fail(e) from e
    if as_json:
        out.print_json(json.dumps(answer.model_dump(mode="json")))
        return
    if not stream:
        out.print(escape(answer.text))
    _print_details(answer)


def _stream(events: Iterator[SourcesEvent | DeltaEvent | FinalEvent]) -> Answer:
    """Print deltas as they come; return the checked answer."""
    streamed = False
    for event in events:
        if isinstance(event, DeltaEvent):
            out.print(escape(event.text), end="")
            streamed = True
        elif isinstance(event, FinalEvent):
            if streamed:
                out.print()
            answer = event.answer
            if not streamed or answer.abstained or answer.text != (answer.model_text or ""):
                # The check changed the text (or nothing was streamed): show the final one.
                lead = "\n[bold]Checked answer:[/bold] " if streamed else ""
                out.print(lead + escape(answer.text))
            return answer
    raise CitewiseError("the answer stream ended without an answer")


def _print_details(answer: Answer) -> None:
    if answer.abstained:
        reason = answer.abstain_reason.value if answer.abstain_reason else "unknown"
        out.print(f"[dim](abstained: {reason})[/dim]")
        if answer.sources:
            out.print("\n[bold]Closest sources[/bold]")
            for source in answer.sources:
                _print_source(source)
        return
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
        for citation in answer.citations:
            section = " > ".join(citation.section_path)
            pages = f" p. {','.join(map(str, citation.pages))}" if citation.pages else ""
            out.print(
                f"[{citation.number}] [bold]{escape(citation.title)}[/bold]"
                + (f" > {escape(section)}" if section else "")
                + pages
            )
            out.print(f"    [dim]{escape(citation.source_uri.removeprefix('file://'))}[/dim]")
            if citation.quote:
                out.print(f'    "{escape(citation.quote)}"')
    for verdict in answer.flagged:
        out.print(f"[yellow]unsupported:[/yellow] {escape(verdict.sentence)} ({verdict.reason})")
    for marker in answer.dropped_markers:
        out.print(f"[yellow]dropped marker {escape(marker.marker)}:[/yellow] {marker.reason}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in answer.timings.items())
    out.print(f"[dim]support {answer.support_score:.2f}; {timings}[/dim]")


def _print_source(source: Source) -> None:
    out.print(f"[{source.number}] {escape(source.locator())}")


@contextmanager
def _assembly_progress() -> Iterator[ProgressCallback]:
    """A progress bar shown only if a model has to be assembled (first use)."""
    progress = Progress(
        TextColumn("assembling the model"), BarColumn(), DownloadColumn(), console=err
    )
    task: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task("model", total=total))
        progress.update(task[0], completed=done)

    try:
        yield update
    finally:
        progress.stop()
