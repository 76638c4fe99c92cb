"""``citewise eval run`` and ``citewise eval compare``: end-to-end answer evaluation.

``run`` evaluates through ``evals.answer_eval.run_answer_eval`` (ingest the corpus, answer,
grade; see there) and writes ``result.json`` plus a self-contained ``report.html``;
``tradeoff`` sweeps settings through ``run_tradeoff``. This module only parses arguments
and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from api.cli.eval_system import CompositionEvalSystem, bar
from api.cli.support import err, fail, load_settings, split_values
from core.errors import CitewiseError
from evals.answer_eval import ApiTarget, choose_examples, run_answer_eval, run_tradeoff
from evals.compare import compare_runs
from evals.qa_datasets import load_dataset
from evals.report import load_result, write_html, write_result
from evals.tradeoff import markdown_table, parse_axis
from generation.open_parts import asked_parts

out = Console()


def run(
    dataset: Annotated[
        str, typer.Option(help="sample, sourcegraph, sec-10q(-unanswerable), or a .jsonl file.")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings YAML of the system under test.")
    ] = None,
    judges: Annotated[
        list[str] | None,
        typer.Option(help="Judges grading answers: lexical, cross-encoder, llm (repeatable)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    sample: Annotated[
        int | None,
        typer.Option(help="A fixed random sample of N questions (seed 0: the same N each run)."),
    ] = None,
    multi_part: Annotated[
        bool,
        typer.Option(
            help="Only the questions that ask several parts (what answer.open_parts changes)."
        ),
    ] = False,
    api: Annotated[
        str | None, typer.Option(help="Ask a running API (its URL) instead of this process.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="CITEWISE_EVAL_API_KEY", help="Key for --api.")
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder of a .jsonl dataset.")] = None,
    acl: Annotated[Path | None, typer.Option(help="ACL policy for --corpus.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Runs, caches, indexes.")] = Path(
        ".citewise-eval"
    ),
    fresh: Annotated[
        bool,
        typer.Option(
            help="Answer again rather than reuse cached answers (after a code change); the "
            "model's replies still come from the reply cache."
        ),
    ] = False,
) -> None:
    """Answer a dataset's questions, grade them, write result.json and report.html."""
    settings = load_settings(config)
    try:
        data = load_dataset(dataset, corpus=corpus, acl_policy=acl)
        examples = data.examples
        if multi_part:
            examples = tuple(e for e in examples if asked_parts(e.question))
        result = run_answer_eval(
            settings,
            data,
            choose_examples(examples, limit=limit, sample=sample),
            judges=split_values(judges) or ("lexical",),
            out_dir=out_dir,
            system=CompositionEvalSystem(),
            api=ApiTarget(api, api_key) if api is not None else None,
            fresh=fresh,
            bar=bar,
            say=err.print,
        )
    except CitewiseError as e:
        raise fail(e) from e
    folder = out_dir / "runs" / f"{data.name}-{result.run_id}"
    write_result(result, folder / "result.json")
    write_html(result, folder / "report.html")
    _print_summary(result.summary)
    out.print(f"wrote {folder / 'result.json'} and {folder / 'report.html'}")


def tradeoff(
    dataset: Annotated[str, typer.Option(help="sample, sourcegraph, or a .jsonl file.")],
    axis: Annotated[
        list[str],
        typer.Option(
            help="SECTION.SETTING=V1,V2,... (repeatable): every combination is run, e.g. "
            "answer.min_relevance=null,0.4,0.5"
        ),
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings YAML of the system under test.")
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder of a .jsonl dataset.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Runs, caches, indexes.")] = Path(
        ".citewise-eval"
    ),
) -> None:
    """Sweep the check's settings over a dataset: reference-checked outcomes per combination
    (model replies come from the run cache, so only uncached prompts are generated)."""
    settings = load_settings(config)
    try:
        data = load_dataset(dataset, corpus=corpus)
        axes = dict(parse_axis(a) for a in axis)
        results = run_tradeoff(
            settings,
            data,
            axes,
            examples=choose_examples(data.examples, limit=limit),
            out_dir=out_dir,
            system=CompositionEvalSystem(),
            bar=bar,
        )
    except CitewiseError as e:
        raise fail(e) from e
    out.print(markdown_table(results))


def compare(
    run_a: Annotated[Path, typer.Argument(help="result.json of the baseline run.")],
    run_b: Annotated[Path, typer.Argument(help="result.json of the candidate run.")],
    gate: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=THRESHOLD: fail when METRIC gets worse by more than THRESHOLD "
            "(e.g. lexical.hallucination_rate=0.02); repeatable."
        ),
    ] = None,
    significant_only: Annotated[
        bool,
        typer.Option(help="Fail only when the regression's 95% interval also excludes zero."),
    ] = False,
) -> None:
    """Print B - A per metric with 95% bootstrap intervals (over questions both runs answered);
    exit 1 when a gated metric regresses beyond its threshold."""
    try:
        thresholds = {}
        for item in split_values(gate):
            metric, _, value = item.partition("=")
            thresholds[metric.strip()] = float(value)
        deltas = compare_runs(
            load_result(run_a),
            load_result(run_b),
            thresholds=thresholds,
            require_significance=significant_only,
        )
    except (ValueError, OSError) as e:
        raise fail(CitewiseError(str(e))) from e
    table = Table(Column("metric", no_wrap=True), "A", "B", "B - A", "95% CI", "n", "gate")
    for d in deltas:
        verdict = "" if d.threshold is None else ("[red]REGRESSED[/red]" if d.regressed else "ok")
        table.add_row(
            d.metric, f"{d.a:.3f}", f"{d.b:.3f}", f"{d.delta:+.3f}",
            f"[{d.low:+.3f}, {d.high:+.3f}]", str(d.n), verdict,
        )  # fmt: skip
    out.print(table)
    regressions = [d for d in deltas if d.regressed]
    for d in regressions:
        err.print(
            f"REGRESSED: {d.metric} {d.a:.3f} -> {d.b:.3f} (worse by more than {d.threshold:g})"
        )
    if regressions:
        raise typer.Exit(1)


def _print_summary(summary: dict[str, float | None]) -> None:
    table = Table("metric", "value")
    for name, value in summary.items():
        table.add_row(name, "n/a" if value is None else f"{value:.3f}")
    out.print(table)
