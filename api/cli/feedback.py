"""``citewise feedback export``: answer feedback as a JSONL evaluation dataset.

One JSON object per line, oldest first, UTF-8::

    {"feedback_id": "3f2a...",            # 32 hex characters
     "answer_id": "9c1e...",              # the Answer.answer_id that was rated
     "user_id": "eve",                    # who rated it (from their API key)
     "rating": "down",                    # "up" or "down"
     "comment": "cites the old policy",   # or null
     "question": "How much ...?",         # or null: sent by the client, not checked
     "answer_text": "Employees ... [1]",  # or null: sent by the client, not checked
     "created_at": "2026-11-29T23:59:01.123456Z"}  # ISO 8601, UTC

Answers are not stored by the server, so ``question`` and ``answer_text`` are present only when
the client sent them with the feedback.
"""

from __future__ import annotations

import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api import composition
from api.cli.support import ConfigOption, exit_on_error, load_settings
from store.feedback_store import RATINGS, Feedback

feedback_app = typer.Typer(help="Feedback on answers.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@feedback_app.command("export")
def feedback_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="JSONL file to write (default: stdout).")
    ] = None,
    rating: Annotated[
        str | None, typer.Option("--rating", help="Only 'up' or only 'down' feedback.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write feedback as JSONL, one object per line (see the module docs for the fields)."""
    if rating is not None and rating not in RATINGS:
        raise typer.BadParameter(f"must be one of {', '.join(RATINGS)}", param_hint="--rating")
    with (
        exit_on_error(),
        closing(composition.build_feedback_store(load_settings(config))) as store,
    ):
        rows = store.list_feedback(rating)
    lines = "".join(_line(row) + "\n" for row in rows)
    if out is None:
        sys.stdout.write(lines)
        return
    out.write_text(lines, encoding="utf-8")
    err.print(f"wrote {len(rows)} feedback row{'' if len(rows) == 1 else 's'} to {out}")


def _line(row: Feedback) -> str:
    data = row.model_dump(mode="json")
    data["created_at"] = row.created_at.isoformat().replace("+00:00", "Z")
    return json.dumps(data, ensure_ascii=False)
