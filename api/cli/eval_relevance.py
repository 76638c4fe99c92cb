"""``citewise eval relevance``: calibrate the answer-relevance threshold on runs' answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.support import fail, split_values
from core.errors import CitewiseError
from evals.relevance_calibration import labelled_claims, markdown, threshold_table
from evals.report import load_result

out = Console()


def relevance(
    runs: Annotated[
        list[Path], typer.Argument(help="result.json files of runs with answer.min_relevance set.")
    ],
    thresholds: Annotated[
        list[str] | None, typer.Option(help="Thresholds to tabulate (comma-separated).")
    ] = None,
) -> None:
    """Precision and recall of the relevance threshold: supported claims that state a
    question's reference key are answers; claims made for unanswerable questions are not."""
    try:
        values = [float(v) for v in split_values(thresholds)] or [
            round(0.25 + 0.05 * i, 2) for i in range(10)
        ]
        claims = [c for run in runs for c in labelled_claims(load_result(run).examples)]
    except (OSError, ValueError) as e:
        raise fail(CitewiseError(str(e))) from e
    if not claims:
        raise fail(CitewiseError("no scored claims: run with answer.min_relevance set"))
    out.print(markdown(threshold_table(claims, values), claims))
