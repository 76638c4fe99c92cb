"""``citewise eval retrieval``: how well search ranks a dataset's gold documents, per mode.

The corpus is indexed through the real ingestion pipeline into a scratch data directory of
its own (default ``<data_dir>/evals/<dataset>``; reruns re-ingest nothing), every question is
searched in each mode, chunks are mapped to documents (a document ranks by its best chunk),
and nDCG@10, recall@10, recall@100 and MRR@10 are printed and written as JSON.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    TaskID,
)
from rich.table import Table

from api import composition
from api.cli.support import err, fail, load_settings, progress_bar, split_values
from core.errors import CitewiseError
from core.settings import Settings
from evals.retrieval_eval import MODES, TOP_K, CorpusIngest, RetrievalReport
from evals.retrieval_run import DATASETS, evaluate_dataset
from retrieval.search import Searcher

out = Console(soft_wrap=True)


class RichProgress:
    """``evals.retrieval_eval.Progress`` on a rich progress bar (stderr, terminals only)."""

    def __init__(self, *, quiet: bool) -> None:
        self._bar = progress_bar(quiet=quiet)
        self._task: TaskID | None = None
        self._description = ""

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.__exit__(kind, error, trace)

    def start(self, description: str, total: int | None) -> None:
        """A new bar, or the current one given its total once known."""
        if self._task is not None and description == self._description:
            self._bar.update(self._task, total=total)
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._description = description
        self._task = self._bar.add_task(description, total=total)

    def advance(self, steps: int = 1) -> None:
        """Move the current bar on."""
        if self._task is not None:
            self._bar.advance(self._task, steps)


def retrieval(
    dataset: Annotated[
        str, typer.Option("--dataset", help=f"Dataset to evaluate: {', '.join(DATASETS)}.")
    ] = "scifact",
    modes: Annotated[
        list[str] | None,
        typer.Option("--modes", help="Search modes, comma-separated (default: all three)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N questions.")
    ] = None,
    limit_docs: Annotated[
        int | None,
        typer.Option(
            "--limit-docs",
            min=1,
            help="Index only the questions' gold documents plus others up to N (quick runs).",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=10, max=1000, help="Chunks per search.")] = TOP_K,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Scratch data directory (default <data_dir>/evals/<dataset>)."
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="JSON results (default <data-dir>/retrieval-results.json)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON instead.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
    ] = None,
) -> None:
    """Retrieval quality on a dataset: dense vs sparse vs hybrid (nDCG@10, recall, MRR)."""
    chosen = split_values(modes) or MODES
    unknown = [m for m in chosen if m not in MODES]
    if dataset not in DATASETS or unknown:
        what = f"mode {unknown[0]!r}" if unknown else f"dataset {dataset!r}"
        err.print(f"[red]error:[/red] unknown {what}")
        raise typer.Exit(2)
    try:
        with RichProgress(quiet=as_json) as progress:
            report = evaluate_dataset(
                load_settings(config),
                dataset,
                open_index=_open_index,
                modes=chosen,
                limit=limit,
                limit_docs=limit_docs,
                k=k,
                data_dir=data_dir,
                progress=progress,
            )
    except CitewiseError as e:
        raise fail(e) from e
    report.command = _command(
        dataset, ",".join(chosen) if modes else None, limit, limit_docs, k, data_dir, out_file
    )
    target = out_file or Path(report.index["data_dir"]) / "retrieval-results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(report.to_json(), indent=1, ensure_ascii=False)
    target.write_text(payload + "\n", encoding="utf-8")
    if as_json:
        out.print_json(payload)
        return
    _print_report(report, target)


@contextmanager
def _open_index(settings: Settings) -> Iterator[tuple[CorpusIngest, Searcher]]:
    """The evaluation index: the ingest pipeline and a searcher over one open store."""
    with composition.open_store(settings) as store:
        pipeline = composition.build_pipeline(settings, store)
        yield composition.corpus_ingest(pipeline), composition.build_searcher(settings, store.index)


def _command(
    dataset: str,
    modes: str | None,
    limit: int | None,
    limit_docs: int | None,
    k: int,
    data_dir: Path | None,
    out_file: Path | None,
) -> str:
    """The command line that reproduces this run (options at their defaults left out)."""
    words = ["citewise", "eval", "retrieval", "--dataset", dataset]
    options = {
        "--modes": modes,
        "--limit": limit,
        "--limit-docs": limit_docs,
        "--k": k if k != TOP_K else None,
        "--data-dir": data_dir,
        "--out": out_file,
    }
    for option, value in options.items():
        if value is not None:
            words += [option, str(value)]
    return shlex.join(words)


def _print_report(report: RetrievalReport, target: Path) -> None:
    ingest = report.index["ingest"]
    out.print(
        f"{report.dataset}: {report.queries} questions, {report.corpus_documents} documents "
        f"({report.index['chunks']} chunks; this run added {ingest['added']}, updated "
        f"{ingest['updated']}, kept {ingest['unchanged']}), {report.k} chunks per search"
    )
    first = next(iter(report.modes.values()))
    names = [m.replace("ndcg", "nDCG").replace("mrr", "MRR") for m in first.metrics]
    table = Table("mode", *names, "nDCG@10 CI95", "ms/query")
    for mode, result in report.modes.items():
        low, high = result.interval("ndcg@10")
        table.add_row(
            mode,
            *(f"{value:.4f}" for value in result.metrics.values()),
            f"{low:.3f}-{high:.3f}",
            f"{result.ms_per_query:.1f}",
        )
    out.print(table)
    out.print(f"results: {target} ({report.seconds:.0f} s)")
