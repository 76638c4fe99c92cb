"""``citewise eval``: the evaluation harness's commands (datasets, runs, reports, judges).

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import typer

from api.cli.eval_judge import calibrate_command, train_judge_command
from api.cli.eval_questions import verify_questions
from api.cli.eval_relevance import relevance
from api.cli.eval_retrieval import retrieval
from api.cli.eval_run import compare, run, tradeoff

eval_app = typer.Typer(
    help="Measure retrieval, answers, citations and hallucinations; train and calibrate judges.",
    no_args_is_help=True,
)
eval_app.command("retrieval")(retrieval)
eval_app.command("run")(run)
eval_app.command("compare")(compare)
eval_app.command("tradeoff")(tradeoff)
eval_app.command("relevance")(relevance)
eval_app.command("train-judge")(train_judge_command)
eval_app.command("calibrate")(calibrate_command)
eval_app.command("verify-questions")(verify_questions)
