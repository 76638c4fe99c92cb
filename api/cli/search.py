"""``citewise search``: ranked passages for a query, as a given principal sees them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from api import composition
from api.cli.support import fail, load_settings, split_values
from core.errors import CitewiseError
from core.models import Principal
from core.settings import Settings
from retrieval.query import ScoredChunk, SearchFilters, SearchMode
from retrieval.snippets import make_snippet

out = Console(soft_wrap=True)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: Annotated[str, typer.Option("--user", help="Search as this user id.")] = "cli",
    groups: Annotated[
        list[str] | None,
        typer.Option("--groups", "--group", help="The user's groups (repeat or comma-separate)."),
    ] = None,
    k: Annotated[int | None, typer.Option("--k", min=1, max=100, help="Results.")] = None,
    mode: Annotated[SearchMode | None, typer.Option(help="Ranking signals.")] = None,
    file_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these file types (repeat).")
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="Only documents under this file or folder.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only documents modified at or after this date.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Only documents modified at or before this date.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
    ] = None,
) -> None:
    """Hybrid search (dense + BM25) over the documents the given principal may read."""
    try:
        settings: Settings = load_settings(config)
        principal = Principal(user_id=user, groups=split_values(groups), tenant=settings.tenant)
        filters = SearchFilters(
            file_types=split_values(file_type),
            path_prefix=path.resolve().as_uri() if path else None,
            modified_after=since,
            modified_before=until,
        )
        with composition.open_store(settings) as store:
            searcher = composition.build_searcher(settings, store.index)
            hits = searcher.search(query, principal, k=k, mode=mode, filters=filters)
    except CitewiseError as e:
        raise fail(e) from e
    except ValueError as e:
        out.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from e
    if as_json:
        out.print_json(json.dumps([_as_dict(rank, hit, query) for rank, hit in enumerate(hits, 1)]))
        return
    if not hits:
        out.print("no results (nothing matches among the documents this principal may read)")
        return
    for rank, hit in enumerate(hits, start=1):
        _print_hit(rank, hit, query)


def _as_dict(rank: int, hit: ScoredChunk, query: str) -> dict[str, object]:
    chunk = hit.chunk
    snippet = make_snippet(chunk.text, query)
    return {
        "rank": rank,
        "score": hit.score,
        "doc_id": chunk.doc_id,
        "chunk_id": chunk.chunk_id,
        "title": chunk.title,
        "section_path": list(chunk.section_path),
        "pages": list(chunk.pages),
        "source_uri": chunk.source_uri,
        "snippet": snippet.text,
        "highlights": [list(span) for span in snippet.highlights],
    }


def _print_hit(rank: int, hit: ScoredChunk, query: str) -> None:
    chunk = hit.chunk
    section = " > ".join(chunk.section_path)
    pages = f" p. {','.join(map(str, chunk.pages))}" if chunk.pages else ""
    out.print(
        f"[bold]{rank}. {escape(chunk.title)}[/bold]"
        + (f" [dim]>[/dim] {escape(section)}" if section else "")
        + f"[dim]{pages}  score {hit.score:.4f}[/dim]"
    )
    out.print(f"   [dim]{escape(chunk.source_uri.removeprefix('file://'))}[/dim]")
    snippet = make_snippet(chunk.text, query)
    marked = escape(snippet.marked("\x00", "\x01")).replace("\x00", "[bold yellow]")
    out.print("   " + marked.replace("\x01", "[/bold yellow]").replace("\n", " "))
