"""``citewise audit``: export the audit log as JSON Lines, and purge rows past retention.

One JSON object per line, oldest first, UTF-8 (the fields of ``store.audit_store.AuditEvent``)::

    {"event_id": "3f2a...", "at": "2026-12-06T23:59:01.123456Z", "action": "ask",
     "user_id": "eve", "groups": ["public"], "tenant": null,
     "question_sha256": "9c1e...", "question": null,
     "doc_ids": ["..."], "chunk_ids": ["..."], "outcome": "answered",
     "answer_id": "...", "target": null, "detail": {}}
"""

from __future__ import annotations

import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api import composition
from api.cli.support import ConfigOption, exit_on_error, load_settings

audit_app = typer.Typer(help="The audit log: who asked what and saw which document.")
err = Console(stderr=True, soft_wrap=True)

_WHEN = "ISO 8601 date or time (UTC unless it names a zone), e.g. 2026-12-01 or 2026-12-01T08:00"


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter(
            f"not an ISO 8601 date or time: {value!r}", param_hint=option
        ) from e
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option("--since", help=f"From this time: {_WHEN}.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this time.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's rows.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="JSONL file to write (default: stdout).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write audit rows as JSONL, oldest first (see the module docs for the fields)."""
    start, end = _when(since, "--since"), _when(until, "--until")
    with exit_on_error(), closing(composition.build_audit_store(load_settings(config))) as store:
        rows = store.events(since=start, until=end, user_id=user)
    lines = "".join(row.model_dump_json() + "\n" for row in rows)
    if out is None:
        sys.stdout.write(lines)
        return
    out.write_text(lines, encoding="utf-8")
    err.print(f"wrote {len(rows)} audit row{'' if len(rows) == 1 else 's'} to {out}")


@audit_app.command("purge")
def audit_purge(config: ConfigOption = None) -> None:
    """Delete the rows older than audit.retention_days (nothing when it is null)."""
    settings = load_settings(config)
    cutoff = composition.retention_cutoff(settings)
    if cutoff is None:
        err.print("audit.retention_days is null: rows are kept forever, nothing purged")
        return
    with exit_on_error(), closing(composition.build_audit_store(settings)) as store:
        purged = store.purge(cutoff)
    rows = f"{purged} audit row{'' if purged == 1 else 's'}"
    err.print(f"purged {rows} older than {cutoff:%Y-%m-%d %H:%M} UTC")
