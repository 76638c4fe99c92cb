"""``citewise review``: the human review queue from the command line.

``list`` shows the queued answers (statements withheld, thumbs-down feedback, disputed
abstentions) or the reviewed ones; ``show ID`` one logged answer in full; ``mark ID correct``
or ``mark ID incorrect`` records a verdict (with ``--note``, ``--source`` a document id or
source URI, ``--corrected-answer``); ``export`` writes the reviewed answers as evaluation
examples (``EvalExample`` JSON Lines, for ``citewise eval run``) or as labelled judge pairs
(``{"claim", "evidence", "label", "answer_id"}`` a line, for judge calibration).
"""

from __future__ import annotations

import getpass
import json
from contextlib import closing
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api import composition
from api.cli.support import ConfigOption, JsonOption, err, exit_on_error, load_settings
from evals.dataset import write_jsonl
from evals.review_export import Verdict, review_examples, reviewed_judge_pairs, to_jsonl
from generation.answer_types import Answer
from store.review_store import LoggedAnswer, QueueStatus, ReviewStore

review_app = typer.Typer(help="The human review queue of served answers.", no_args_is_help=True)
out = Console(soft_wrap=True)


@review_app.command("list")
def review_list(
    status: Annotated[
        QueueStatus, typer.Option("--status", help="pending (the queue) or reviewed.")
    ] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List queued (or reviewed) answers, newest first."""
    with exit_on_error(), closing(_open_store(config)) as store:
        items = store.queue(status, limit=limit)
    if as_json:
        out.print_json(json.dumps([_json(item) for item in items]))
        return
    table = Table("answer", "asked", "user", "question", "why", "review")
    table.columns[0].no_wrap = True  # ids are for copying into `review show` / `mark`
    for item in items:
        review = item.review.verdict if item.review else ""
        table.add_row(
            item.answer_id,
            f"{item.asked_at:%Y-%m-%d %H:%M}",
            escape(item.principal.user_id),
            escape(_cut(item.question, 60)),
            ", ".join(item.reasons),
            review,
        )
    out.print(table)
    out.print(f"{len(items)} {status} answer{'' if len(items) == 1 else 's'}")


@review_app.command("show")
def review_show(
    answer_id: Annotated[str, typer.Argument(help="The answer id.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show one logged answer in full: the shown text, what was withheld, the feedback."""
    with exit_on_error(), closing(_open_store(config)) as store:
        item = store.get(answer_id)
    if as_json:
        out.print_json(json.dumps(_json(item, full=True)))
        return
    answer = item.answer
    p = item.principal
    out.print(f"[bold]{escape(item.question)}[/bold]")
    out.print(
        f"answer {item.answer_id}  asked {item.asked_at:%Y-%m-%d %H:%M:%S} by "
        f"{escape(p.user_id)} (groups {escape(', '.join(p.groups)) or '-'}, "
        f"tenant {escape(p.tenant or '-')})  queued for: {', '.join(item.reasons) or '-'}"
    )
    if answer.abstained:
        reason = answer.abstain_reason.value if answer.abstain_reason else "-"
        out.print(f"[yellow]abstained[/yellow] ({reason})")
    out.print(escape(answer.text))
    for withheld in answer.withheld:
        out.print(f"  [red]withheld[/red] {escape(withheld.sentence)} ({escape(withheld.reason)})")
    for citation in answer.citations:
        out.print(f"  [{citation.number}] {escape(citation.title)} — {escape(citation.source_uri)}")
    for fb in item.feedback:
        comment = f": {escape(fb.comment)}" if fb.comment else ""
        out.print(f"  feedback {fb.rating} by {escape(fb.user_id)}{comment}")
    if item.review is not None:
        r = item.review
        out.print(
            f"  reviewed [bold]{r.verdict}[/bold] by {escape(r.reviewer_id)} "
            f"{r.reviewed_at:%Y-%m-%d %H:%M}"
            + (f"; source {escape(r.source)}" if r.source else "")
            + (f"; note: {escape(r.note)}" if r.note else "")
        )


@review_app.command("mark")
def review_mark(
    answer_id: Annotated[str, typer.Argument(help="The answer id.")],
    verdict: Annotated[Verdict, typer.Argument(help="correct or incorrect.")],
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="The document with the right answer: doc id or URI."),
    ] = None,
    corrected: Annotated[
        str | None, typer.Option("--corrected-answer", help="The answer as it should read.")
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Reviewer id (default: your login name).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Record a verdict on a logged answer (replacing an earlier one)."""
    with exit_on_error():
        settings = load_settings(config)
        if source is not None and source.strip() and "://" not in source:
            with closing(composition.build_registry(settings)) as registry:
                source = registry.get(source.strip()).source_uri
        with closing(composition.build_review_store(settings)) as store:
            try:
                item = store.mark(
                    answer_id,
                    verdict,
                    reviewer or getpass.getuser(),
                    note=note,
                    source=source,
                    corrected_answer=corrected,
                )
            except ValueError as e:
                raise typer.BadParameter(str(e)) from e
    assert item.review is not None
    out.print(f"{item.answer_id}: {item.review.verdict} (by {escape(item.review.reviewer_id)})")


@review_app.command("export")
def review_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON Lines file to write.")],
    fmt: Annotated[
        Literal["examples", "judge-pairs"],
        typer.Option("--format", help="examples (EvalExample) or judge-pairs."),
    ] = "examples",
    config: ConfigOption = None,
) -> None:
    """Write the reviewed answers as evaluation examples or labelled judge pairs."""
    with exit_on_error(), closing(_open_store(config)) as store:
        if fmt == "examples":
            count = write_jsonl(review_examples(store.reviewed()), output)
        else:
            pairs = reviewed_judge_pairs(store.reviewed())
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(to_jsonl(pairs), encoding="utf-8")
            count = len(pairs)
    kind = "example" if fmt == "examples" else "judge pair"
    err.print(f"wrote {count} {kind}{'' if count == 1 else 's'} to {output}")


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(item: LoggedAnswer[Answer], *, full: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        "answer_id": item.answer_id,
        "asked_at": item.asked_at.isoformat(),
        "principal": item.principal.model_dump(mode="json"),
        "question": item.question,
        "text": item.answer.text,
        "withheld": len(item.answer.withheld),
        "abstained": item.answer.abstained,
        "reasons": list(item.reasons),
        "feedback": [f.model_dump(mode="json") for f in item.feedback],
        "review": item.review.model_dump(mode="json") if item.review else None,
    }
    if full:
        data["answer"] = item.answer.model_dump(mode="json")
    return data


def _open_store(config: Path | None) -> ReviewStore[Answer]:
    return composition.build_review_store(load_settings(config))
