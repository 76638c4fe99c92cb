"""``citewise docs``: inspect and manage ingested documents."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api import composition
from api.cli.support import ConfigOption, JsonOption, err, fail, load_settings
from core.errors import CitewiseError, NotFoundError
from core.models import Acl, Document

out = Console(soft_wrap=True)
docs_app = typer.Typer(help="Inspect and manage ingested documents.", no_args_is_help=True)


@docs_app.command("list")
def docs_list(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List registered documents with their status."""
    try:
        settings = load_settings(config)
        registry = composition.build_registry(settings)
        documents = registry.list_documents()
        registry.close()
    except CitewiseError as e:
        raise fail(e) from e
    if as_json:
        out.print_json(json.dumps([d.model_dump(mode="json") for d in documents]))
        return
    table = Table("id", "title", "type", "ver", "chunks", "status", "acl")
    for d in documents:
        status = d.status.value + (f": {d.error}" if d.error else "")
        table.add_row(
            d.doc_id[:8],
            d.title,
            d.file_type or "",
            str(d.version),
            str(d.chunk_count),
            status,
            d.acl.describe(),
        )
    out.print(table)
    out.print(f"{len(documents)} documents")


@docs_app.command("show")
def docs_show(
    doc_id: Annotated[str, typer.Argument(help="Document id (or a unique prefix).")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show one document, its chunks and its history."""
    try:
        settings = load_settings(config)
        with composition.open_store(settings) as store:
            document = store.registry.get(_resolve(store.registry.list_documents(), doc_id))
            chunks = store.index.get_chunks(document.doc_id)
            events = store.registry.events(document.doc_id)
    except CitewiseError as e:
        raise fail(e) from e
    if as_json:
        payload = {
            "document": document.model_dump(mode="json"),
            "chunks": [c.model_dump(mode="json") for c in chunks],
            "events": [{"at": at.isoformat(), "event": ev, "detail": de} for at, ev, de in events],
        }
        out.print_json(json.dumps(payload))
        return
    out.print(f"[bold]{document.title}[/bold]  {_short(document.source_uri)}")
    out.print(
        f"id {document.doc_id}  version {document.version}  status {document.status.value}"
        f"  acl {document.acl.describe()}"
    )
    for chunk in chunks:
        where = " > ".join(chunk.section_path) or "-"
        pages = ",".join(map(str, chunk.pages)) or "-"
        out.print(
            f"  #{chunk.ordinal} [{where}] p.{pages} {chunk.token_count} tok: {chunk.text[:100]!r}"
        )
    for at, event, detail in events:
        out.print(f"  {at:%Y-%m-%d %H:%M:%S} {event} {detail or ''}")


@docs_app.command("rm")
def docs_rm(
    doc_id: Annotated[str, typer.Argument(help="Document id (or a unique prefix).")],
    config: ConfigOption = None,
) -> None:
    """Remove a document and its chunks (the file itself is not touched)."""
    try:
        settings = load_settings(config)
        with composition.open_store(settings) as store:
            full_id = _resolve(store.registry.list_documents(), doc_id)
            store.writer.purge(full_id)
    except CitewiseError as e:
        raise fail(e) from e
    out.print(f"removed {full_id}")


@docs_app.command("set-acl")
def docs_set_acl(
    doc_id: Annotated[str, typer.Argument(help="Document id (or a unique prefix).")],
    users: Annotated[
        list[str] | None, typer.Option("--user", help="Allowed user (repeat).")
    ] = None,
    groups: Annotated[
        list[str] | None, typer.Option("--group", help="Allowed group (repeat); 'public' = all.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Replace a document's ACL without re-embedding it."""
    if not users and not groups:
        err.print("error: give at least one --user or --group")
        raise typer.Exit(2)
    acl = Acl(users=tuple(users or ()), groups=tuple(groups or ()))
    try:
        settings = load_settings(config)
        with composition.open_store(settings) as store:
            full_id = _resolve(store.registry.list_documents(), doc_id)
            store.writer.set_acl(full_id, acl)
    except CitewiseError as e:
        raise fail(e) from e
    out.print(f"{full_id}: acl {acl.describe()}")


def _resolve(documents: list[Document], prefix: str) -> str:
    matches = [d.doc_id for d in documents if d.doc_id.startswith(prefix)]
    if len(matches) != 1:
        raise NotFoundError(
            f"no document matches {prefix!r}"
            if not matches
            else f"{prefix!r} matches {len(matches)} documents; give more characters"
        )
    return matches[0]


def _short(uri: str) -> str:
    return uri.removeprefix("file://")
