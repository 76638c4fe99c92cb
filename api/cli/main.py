"""The ``citewise`` command line: the app and its command groups (one module each)."""

from __future__ import annotations

import typer

from api.cli.ask import ask
from api.cli.audit import audit_app
from api.cli.db import db_app
from api.cli.docs import docs_app
from api.cli.eval import eval_app
from api.cli.feedback import feedback_app
from api.cli.ingest import ingest
from api.cli.keys import keys_app
from api.cli.models import models_app
from api.cli.review import review_app
from api.cli.search import search
from api.cli.serve import serve
from api.cli.worker import worker

app = typer.Typer(
    help="Citewise: grounded, cited answers over your own documents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(docs_app, name="docs")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(feedback_app, name="feedback")
app.add_typer(review_app, name="review")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(eval_app, name="eval")
app.command()(search)
app.command()(ask)
app.command()(serve)
app.command()(worker)
app.command()(ingest)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="citewise")


if __name__ == "__main__":
    main()
