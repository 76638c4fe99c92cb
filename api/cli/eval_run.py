"""``citewise eval run`` and ``citewise eval compare``: end-to-end answer evaluation.

``run`` ingests the dataset's corpus into an evaluation index of its own (unchanged files are
skipped on later runs), answers every question in this process or through a running API,
grades each answer with the chosen judges, and writes ``result.json`` plus a self-contained
``report.html``. Generations are cached by (question, principal, configuration), so judges
can be re-run for free and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from api import composition
from api.cli.eval_judges import build_judges
from api.cli.support import err, fail, load_settings, progress_bar, split_values
from core.errors import CitewiseError
from core.settings import Settings
from evals.answer_run import grade, new_run, run_answers, utc_now
from evals.backends import AnswerBackend, ApiBackend, ServiceBackend
from evals.compare import compare_runs
from evals.generation_cache import GenerationCache
from evals.llm_cache import CachingGenerator
from evals.qa_datasets import QaDataset, load_dataset
from evals.report import load_result, write_html, write_result
from evals.tradeoff import grid, markdown_table, parse_axis, sweep, with_overrides
from generation.generator import Generator
from ingest.acl_policy import AclPolicy

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
) -> None:
    """Answer a dataset's questions, grade them, write result.json and report.html."""
    settings = load_settings(config)
    try:
        data = load_dataset(dataset, corpus=corpus, acl_policy=acl)
        examples = data.examples[:limit] if limit else data.examples
        if sample is not None and sample < len(examples):
            chosen = set(random.Random(0).sample(range(len(examples)), sample))
            examples = tuple(e for i, e in enumerate(examples) if i in chosen)
        names = split_values(judges) or ("lexical",)
        with ExitStack() as stack:
            if api is None:
                settings = _eval_settings(settings, out_dir, data)
                embedder = composition.build_embedder(settings)
                generator: Generator | None = _cached(
                    composition.build_generator(settings), settings, out_dir
                )
                store = stack.enter_context(composition.open_store(settings, embedder=embedder))
                _ingest(settings, store, data)
                service = composition.build_answer_service(
                    settings, store.index, generator=generator, embedder=embedder
                )
                backend: AnswerBackend = ServiceBackend(service, tenant=settings.tenant)
                config_id = run_config_id(settings)
            else:
                embedder = composition.build_embedder(settings)
                # The LLM judge runs here, on the configured model, whoever answered.
                generator = composition.build_generator(settings) if "llm" in names else None
                api_backend = ApiBackend(api, api_key)
                stack.callback(api_backend.close)
                backend, config_id = api_backend, "api-" + _digest(api)
            graders = build_judges(names, settings, embedder, generator)
            cache = GenerationCache(out_dir / "cache" / f"{data.name}.jsonl")
            started, began = utc_now(), time.perf_counter()
            with _bar("answering", total=len(examples)) as advance:
                answers = run_answers(
                    examples,
                    backend,
                    cache,
                    config_id=config_id,
                    progress=lambda _example, _cached: advance(),
                )
            err.print(f"grading {len(answers)} answers with {', '.join(names)}")
            with _bar("grading", total=len(answers)) as advance:
                results = grade(answers, graders, embedder, progress=advance)
        result = new_run(
            dataset=data.name,
            config_id=config_id,
            config=json.loads(settings.model_dump_json(include=_SHAPING, exclude=_NOT_SHAPING)),
            backend=api or "in-process",
            judges=names,
            started_at=started,
            seconds=time.perf_counter() - began,
            results=results,
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
        points = grid(axes)
        settings = _eval_settings(settings, out_dir, data)
        embedder = composition.build_embedder(settings)
        generator = _cached(composition.build_generator(settings), settings, out_dir)
        with composition.open_store(settings, embedder=embedder) as store:
            _ingest(settings, store, data)

            def backend_for(overrides: Mapping[str, object]) -> tuple[AnswerBackend, str]:
                chosen = with_overrides(settings, overrides)
                service = composition.build_answer_service(
                    chosen, store.index, generator=generator, embedder=embedder
                )
                return ServiceBackend(service, tenant=chosen.tenant), run_config_id(chosen)

            cache = GenerationCache(out_dir / "cache" / f"{data.name}.jsonl")
            with _bar("settings", total=len(points)) as advance:
                results = sweep(
                    data.examples, points, backend_for, cache, embedder, progress=advance
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


_SHAPING = {"embedding", "chunking", "parsing", "search", "llm", "answer"}
"""The settings that shape answers: they make up the configuration id."""
_NOT_SHAPING = {"llm": {"threads", "timeout_s", "max_retries", "api_key"}}
"""Within them, what only changes speed or access (the same answer with 1 or 2 threads)."""


def _eval_settings(settings: Settings, out_dir: Path, data: QaDataset) -> Settings:
    """The system under test, with an index and registry of its own for this dataset (models
    stay where the settings keep them)."""
    work = out_dir / "index" / f"{data.name}-{composition.pipeline_id(settings)}"
    work.mkdir(parents=True, exist_ok=True)
    return settings.model_copy(
        update={
            "index": settings.index.model_copy(update={"path": work / "index"}),
            "registry": settings.registry.model_copy(
                update={"url": f"sqlite:///{work / 'registry.sqlite3'}"}
            ),
        }
    )


def _ingest(settings: Settings, store: composition.Store, data: QaDataset) -> None:
    policy = (
        AclPolicy.from_file(data.acl_policy)
        if data.acl_policy
        else AclPolicy.default_only(("public",))
    )
    with progress_bar() as progress:
        task = progress.add_task(f"ingesting {data.corpus.name}", total=None)
        summary = composition.build_pipeline(settings, store).run(
            [data.corpus],
            policy=policy,
            on_total=lambda n: progress.update(task, total=n),
            on_result=lambda _: progress.advance(task),
        )
    err.print(
        f"corpus: {summary.added + summary.updated} indexed, {summary.unchanged} unchanged, "
        f"{summary.failed} failed ({summary.seconds:.0f} s)"
    )


def _cached(generator: Generator, settings: Settings, out_dir: Path) -> Generator:
    """The answering model behind a reply cache shared by every run in ``out_dir``: a run
    that changes only what happens after generation (the check, thresholds) replays them."""
    llm = settings.llm
    model_id = f"{llm.backend}:{llm.model}:{llm.base_url or ''}"
    return CachingGenerator(generator, out_dir / "cache" / "llm-replies.jsonl", model_id=model_id)


def run_config_id(settings: Settings) -> str:
    """Names the configuration under test: a digest of every setting that shapes answers and
    of the pipeline version that built the index."""
    shaping = settings.model_dump_json(include=_SHAPING, exclude=_NOT_SHAPING)
    return _digest(shaping + composition.pipeline_id(settings))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextmanager
def _bar(label: str, *, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar; yields the function that advances it by one."""
    with progress_bar() as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def _print_summary(summary: dict[str, float | None]) -> None:
    table = Table("metric", "value")
    for name, value in summary.items():
        table.add_row(name, "n/a" if value is None else f"{value:.3f}")
    out.print(table)
