"""The support judges' training and calibration runs, orchestrated (``citewise eval
train-judge`` and ``citewise eval calibrate``; the CLI only parses arguments and prints).

Judges are built by the composition root and handed in (``JudgeFactory``), so evaluation
imports neither ``api`` nor ``ingest``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evals.calibration import PairOutcome, Report, report, report_json, report_markdown, run_judge
from evals.judge_data import HALUEVAL, LabelledPair, Split, subsample
from evals.judge_training import TrainingOptions, TrainingResult, train_judge
from generation.grounding import SupportJudge
from retrieval.embedder import Embedder

JudgeFactory = Callable[[str], SupportJudge]
"""Builds the judge called ``name`` (``lexical``, ``cross-encoder``, ``llm``…)."""
StageProgress = Callable[[str, int, int], None]
"""``advance(stage, done, total)``."""
_DEFAULT_TRAINING = TrainingOptions()


def cap_pairs(
    pairs: Sequence[LabelledPair],
    limit: int | None,
    per_set: Mapping[str, int],
    data_sets: Sequence[str],
) -> list[LabelledPair]:
    """At most ``limit`` pairs per set of ``data_sets`` (and the per-set caps), spread over
    domains."""
    capped: list[LabelledPair] = []
    for dataset in data_sets:
        of_set = [p for p in pairs if p.dataset == dataset]
        caps = [c for c in (limit, per_set.get(dataset)) if c is not None]
        capped += subsample(of_set, min(caps) if caps else None)
    return capped


def pair_counts(pairs: Sequence[LabelledPair], data_sets: Sequence[str]) -> dict[str, int]:
    """Pairs per set (sets without pairs left out)."""
    return {s: n for s in data_sets if (n := sum(p.dataset == s for p in pairs))}


def describe_sizes(pairs: Sequence[LabelledPair], data_sets: Sequence[str]) -> str:
    """``"300 summedits pairs, 200 halueval pairs"``, or ``"no pairs"``."""
    counts = pair_counts(pairs, data_sets)
    return ", ".join(f"{n} {s} pairs" for s, n in counts.items()) or "no pairs"


def train_support_judge(
    splits: Mapping[Split, Sequence[LabelledPair]],
    output: Path,
    embedder: Embedder,
    *,
    base_model: Path,
    data_sets: Sequence[str],
    options: TrainingOptions = _DEFAULT_TRAINING,
    halueval_pairs: int = 1500,
    limit: int | None = None,
    progress: StageProgress | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> TrainingResult:
    """Train the cross-encoder judge on the training split (HaluEval capped at
    ``halueval_pairs``, every set at ``limit``), choose its threshold on the validation split
    and save it to ``output``; the held-out split is never used."""
    train = cap_pairs(splits["train"], limit, {HALUEVAL: halueval_pairs}, data_sets)
    validation = cap_pairs(
        splits["validation"], limit, {HALUEVAL: max(halueval_pairs // 4, 2)}, data_sets
    )
    say(
        f"training on {describe_sizes(train, data_sets)}; threshold chosen on "
        f"{describe_sizes(validation, data_sets)}; {options.epochs:g} epochs, window "
        f"{options.max_tokens} tokens"
    )
    return train_judge(
        train,
        validation,
        output,
        embedder,
        base_model=base_model,
        options=options,
        progress=progress,
    )


@dataclass
class Calibration:
    """Judges measured on held-out pairs: the report, and per judge the pairs per set and the
    seconds it took."""

    report: Report
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def markdown(self) -> str:
        """The report as a markdown table."""
        return report_markdown(self.report)

    def json(self) -> str:
        """The report as JSON, with the pair counts and timings."""
        return report_json(self.report, pairs=self.sizes, seconds=self.seconds)


def calibrate_judges(
    judges: Sequence[str],
    held_out: Sequence[LabelledPair],
    build: JudgeFactory,
    *,
    data_sets: Sequence[str],
    llm_limit: int = 100,
    progress: StageProgress | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Calibration:
    """Measure each judge on ``held_out`` (the ``llm`` judge, which is slow, on at most
    ``llm_limit`` pairs per set): balanced accuracy, precision, recall, F1."""
    outcomes: dict[str, list[PairOutcome]] = {}
    sizes: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    for name in judges:
        pairs = cap_pairs(held_out, llm_limit, {}, data_sets) if name == "llm" else held_out
        sizes[name] = pair_counts(pairs, data_sets)
        say(f"{name}: judging {describe_sizes(pairs, data_sets)}")
        started = time.perf_counter()
        judge = build(name)
        done = 0

        def step(count: int, label: str = name, total: int = len(pairs)) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(label, done, total)

        # One answer per call for the LLM, as in the answer path; batches otherwise.
        per_call = 1 if name == "llm" else 32
        outcomes[name] = run_judge(judge, list(pairs), pairs_per_call=per_call, progress=step)
        seconds[name] = round(time.perf_counter() - started, 1)
    return Calibration(report(outcomes), sizes, seconds)
