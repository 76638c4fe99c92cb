"""``citewise ask``: a grounded, cited answer as a given principal may know it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
from rich.text import Text

from api import composition
from api.cli.support import err, fail, load_settings, split_values
from core.errors import CitewiseError
from core.models import Principal
from core.settings import Settings
from generation.answer import DeltaEvent, FinalEvent, SourcesEvent
from generation.answer_types import Answer
from generation.model_store import ProgressCallback
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
    show_withheld: Annotated[
        bool,
        typer.Option(
            "--show-withheld", help="List the statements withheld as unsupported, with reasons."
        ),
    ] = False,
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
    _print_details(answer, show_withheld=show_withheld)


def _stream(events: Iterator[SourcesEvent | DeltaEvent | FinalEvent]) -> Answer:
    """Show the draft as it is written, then replace it with the checked answer.

    The draft is the model's unchecked text, so it is shown dimmed, marked as a draft, and
    only while it is being written (a transient live display, which a non-terminal output
    never receives): what stays on screen is the checked answer alone.
    """
    draft: list[str] = []
    with Live(Text(""), console=out, transient=True, refresh_per_second=8) as live:
        for event in events:
            if isinstance(event, SourcesEvent):
                live.update(
                    Text(f"searching done: {len(event.sources)} sources; writing...", "dim")
                )
            elif isinstance(event, DeltaEvent):
                draft.append(event.text)
                live.update(Text("draft, being checked: " + "".join(draft), style="dim"))
            elif isinstance(event, FinalEvent):
                answer = event.answer
                break
        else:
            raise CitewiseError("the answer stream ended without an answer")
    out.print(escape(answer.text))
    return answer


def _print_details(answer: Answer, *, show_withheld: bool = False) -> None:
    _print_withheld(answer, show=show_withheld)
    for part in answer.unanswered_parts:
        out.print(f"[yellow]Not answered by the sources:[/yellow] {escape(part)}")
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
    withheld = {w.sentence for w in answer.withheld}
    for verdict in answer.flagged:
        if verdict.sentence not in withheld:
            out.print(
                f"[yellow]unsupported:[/yellow] {escape(verdict.sentence)} ({verdict.reason})"
            )
    for marker in answer.dropped_markers:
        out.print(f"[yellow]dropped marker {escape(marker.marker)}:[/yellow] {marker.reason}")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in answer.timings.items())
    out.print(f"[dim]support {answer.support_score:.2f}; {timings}[/dim]")


def _print_withheld(answer: Answer, *, show: bool) -> None:
    """Say that statements were withheld (and, on request, which and why)."""
    count = len(answer.withheld)
    if not count:
        return
    what = "1 statement was" if count == 1 else f"{count} statements were"
    hint = "" if show else " (--show-withheld lists them)"
    out.print(f"[yellow]{what} withheld: the sources don't support it[/yellow][dim]{hint}[/dim]")
    if show:
        for statement in answer.withheld:
            out.print(f"  [dim]withheld:[/dim] {escape(statement.sentence)} ({statement.reason})")


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
