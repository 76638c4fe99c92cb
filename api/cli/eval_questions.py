"""``citewise eval verify-questions``: check a reference-checked question set against its
corpus (``evals.question_sets.verify``), the corpus read as the ingest parser reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import composition
from api.cli.support import err
from evals.dataset import DatasetError
from evals.question_sets import default_corpus, kind_counts, load_question_set, verify


def verify_questions(
    path: Annotated[Path, typer.Argument(help="The question-set YAML file.")],
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="The folder its sources are relative to.")
    ] = None,
) -> None:
    """Verify a question set; print the counts per kind and one line per problem."""
    folder = corpus or default_corpus(path)
    if folder is None:
        raise typer.BadParameter(
            f"{path} is not a known question set: name its folder with --corpus",
            param_hint="--corpus",
        )
    try:
        items = load_question_set(path)
    except DatasetError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(1) from e
    counts = kind_counts(items)
    typer.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    problems = verify(items, folder, composition.corpus_reader())
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {path} verifies against {folder}")
