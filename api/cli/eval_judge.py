"""``citewise eval train-judge`` and ``citewise eval calibrate``: the support judges.

``train-judge`` fine-tunes the cross-encoder judge from the shipped MiniLM on the training
splits of SummEdits and HaluEval QA, chooses its threshold on the validation splits and saves
it where the answer path finds it (``answer.judge_path``, default
``<data_dir>/models/support-judge``). ``calibrate`` measures judges on the held-out splits.
Both run through ``evals.judge_eval``; this module parses arguments and prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from api import composition
from api.cli.support import err, fail, load_settings
from core.errors import CitewiseError
from core.settings import Settings
from evals.judge_data import (
    HALUEVAL,
    SUMMEDITS,
    LabelledPair,
    Split,
    default_shared_data,
    load_halueval_qa,
    load_summedits,
    split_pairs,
)
from evals.judge_eval import calibrate_judges, cap_pairs, train_support_judge
from evals.judge_training import TrainingOptions
from evals.synthetic_claims import SYNTHETIC, by_kind_domain, default_corpora, synthetic_pairs
from generation.cross_encoder_judge import trained_judge_exists
from generation.grounding import LexicalEmbeddingJudge, SupportJudge, WarmableJudge
from retrieval.embedder import Embedder, shipped_minilm_path
from retrieval.memo_embedder import MemoEmbedder

out = Console(soft_wrap=True)
JudgeName = Literal["lexical", "lexical-no-subject", "cross-encoder", "llm"]
DATA_SETS = (SUMMEDITS, HALUEVAL, SYNTHETIC)
DEFAULT_SETS = (SUMMEDITS, HALUEVAL)
"""The synthetic set is measured on request (``--set synthetic``): the trained judge's
reported figures predate it."""

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (else $CITEWISE_CONFIG).")
]
DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Shared data folder (else $CITEWISE_SHARED_DATA, ../shared/data)."),
]
ModelOption = Annotated[
    Path | None,
    typer.Option("--model-dir", help="The judge's folder (default: answer.judge_path)."),
]
SetsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Labelled sets: summedits, halueval, synthetic (default: summedits, halueval).",
    ),
]


_TRAINING = TrainingOptions()
"""The trainer's own defaults, shown as the command's (one source of truth)."""


def train_judge_command(
    data: DataOption = None,
    model_dir: ModelOption = None,
    sets: SetsOption = None,
    halueval_pairs: Annotated[
        int, typer.Option(help="HaluEval training pairs used (the split has 13000).")
    ] = 1500,
    limit: Annotated[
        int | None,
        typer.Option(help="At most this many training and validation pairs per set (trials)."),
    ] = None,
    epochs: Annotated[
        float, typer.Option(help="Passes over the training examples.")
    ] = _TRAINING.epochs,
    batch_size: Annotated[
        int, typer.Option(help="Examples per optimiser step.")
    ] = _TRAINING.batch_size,
    learning_rate: Annotated[
        float, typer.Option(help="Peak learning rate.")
    ] = _TRAINING.learning_rate,
    max_tokens: Annotated[
        int, typer.Option(help="The judge's window (evidence+claim).")
    ] = _TRAINING.max_tokens,
    config: ConfigOption = None,
) -> None:
    """Train the cross-encoder support judge (a held-out split is never used here)."""
    try:
        settings = load_settings(config)
        splits = _splits(data, _chosen_sets(sets))
    except CitewiseError as e:
        raise fail(e) from e
    output = model_dir or composition.support_judge_path(settings)
    options = TrainingOptions(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, max_tokens=max_tokens
    )
    with _progress() as advance:
        try:
            result = train_support_judge(
                splits,
                output,
                _embedder(settings),
                base_model=shipped_minilm_path(),
                data_sets=DATA_SETS,
                options=options,
                halueval_pairs=halueval_pairs,
                limit=limit,
                progress=advance,
                say=err.print,
            )
        except CitewiseError as e:
            raise fail(e) from e
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result.validation_balanced_accuracy.items())
    out.print(
        f"judge saved to {escape(str(result.model_dir))}: {result.train_examples} examples "
        f"({result.examples_by_label}) from {result.train_pairs} pairs, trained in "
        f"{result.train_seconds / 60:.1f} min ({result.total_seconds / 60:.1f} min in all); "
        f"threshold {result.threshold:.3f}; validation balanced accuracy: {scores}"
    )


def calibrate_command(
    judges: Annotated[
        list[str] | None,
        typer.Option(
            "--judge",
            help="lexical, lexical-no-subject (its figure-subject check off), cross-encoder, "
            "llm (repeat; default: lexical and a trained cross-encoder).",
        ),
    ] = None,
    data: DataOption = None,
    model_dir: ModelOption = None,
    sets: SetsOption = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many held-out pairs per set (all: unset).")
    ] = None,
    llm_limit: Annotated[
        int, typer.Option(help="Held-out pairs per set for the LLM judge (it is slow).")
    ] = 100,
    llm_model: Annotated[
        str | None,
        typer.Option(help="The llm judge's model: a shipped name or a .gguf (else llm.model)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write calibration.json and calibration.md to this folder."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Measure judges on the held-out splits: balanced accuracy, precision, recall, F1."""
    try:
        settings = load_settings(config)
        chosen = _chosen_judges(judges, settings, model_dir)
        held_out = cap_pairs(_splits(data, _chosen_sets(sets))["test"], limit, {}, DATA_SETS)
    except CitewiseError as e:
        raise fail(e) from e
    embedder = _embedder(settings)

    def build(name: str) -> SupportJudge:
        return _build_judge(cast(JudgeName, name), settings, embedder, model_dir, llm_model)

    try:
        with _progress() as advance:
            result = calibrate_judges(
                chosen,
                held_out,
                build,
                data_sets=DATA_SETS,
                llm_limit=llm_limit,
                progress=advance,
                say=err.print,
            )
    except CitewiseError as e:
        raise fail(e) from e
    table = result.markdown()
    out.print(table, markup=False)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "calibration.json").write_text(result.json(), encoding="utf-8")
        (output / "calibration.md").write_text(table, encoding="utf-8")
        err.print(f"wrote {escape(str(output / 'calibration.json'))} and calibration.md")


def _chosen_sets(sets: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(sets or DEFAULT_SETS))
    unknown = [s for s in chosen if s not in DATA_SETS]
    if unknown:
        raise typer.BadParameter(f"unknown set {unknown[0]!r}", param_hint="--set")
    return chosen


def _chosen_judges(
    judges: Sequence[str] | None, settings: Settings, model_dir: Path | None
) -> tuple[JudgeName, ...]:
    known: tuple[JudgeName, ...] = ("lexical", "lexical-no-subject", "cross-encoder", "llm")
    if judges:
        unknown = [j for j in judges if j not in known]
        if unknown:
            raise typer.BadParameter(f"unknown judge {unknown[0]!r}", param_hint="--judge")
        return tuple(j for j in known if j in judges)
    path = model_dir or composition.support_judge_path(settings)
    if trained_judge_exists(path):
        return ("lexical", "cross-encoder")
    err.print(f"no trained judge at {escape(str(path))}: measuring the lexical judge only")
    return ("lexical",)


def _build_judge(
    name: JudgeName,
    settings: Settings,
    embedder: Embedder,
    model_dir: Path | None,
    llm_model: str | None,
) -> SupportJudge:
    """The judge called ``name`` (``composition.build_judge``), warmed up: a cross-encoder
    from ``model_dir`` (default ``answer.judge_path``), an LLM on ``llm_model`` (default
    ``llm.model``)."""
    if name == "lexical-no-subject":
        return LexicalEmbeddingJudge(embedder, check_subject=False)
    generator = None
    if name == "llm":
        if llm_model is not None:
            settings = settings.model_copy(
                update={"llm": settings.llm.model_copy(update={"model": llm_model})}
            )
        generator = composition.build_generator(settings)
    judge = composition.build_judge(name, settings, embedder, generator=generator, path=model_dir)
    if name in ("cross-encoder", "llm") and isinstance(judge, WarmableJudge):
        judge.warm_up()
    return judge


def _splits(data: Path | None, sets: Sequence[str]) -> dict[Split, list[LabelledPair]]:
    root = data or default_shared_data()
    pairs: list[LabelledPair] = []
    if SUMMEDITS in sets:
        pairs += load_summedits(root)
    if HALUEVAL in sets:
        pairs += load_halueval_qa()
    if SYNTHETIC in sets:
        pairs += synthetic_pairs(default_corpora(root))
    splits = split_pairs(pairs)
    # Synthetic pairs split by document within each corpus, then report by perturbation.
    return {name: [by_kind_domain(p) for p in found] for name, found in splits.items()}


def _embedder(settings: Settings) -> Embedder:
    # SummEdits has ~30 summaries per document: its sentences are embedded once, not 30 times.
    return MemoEmbedder(composition.build_embedder(settings), max_items=200_000)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress display; yields ``advance(stage, done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield advance
