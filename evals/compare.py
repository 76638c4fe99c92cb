"""Compare two runs: per-metric deltas with paired-bootstrap confidence intervals, and a gate
that fails when a metric regresses beyond its allowed threshold (a CI check).

Metrics are compared on the questions both runs answered (matched by example id); each
question contributes its own value (a 0/1 for "hallucinated", a rate for faithfulness...), so
resampling questions gives the interval of the difference of the means.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evals.answer_run import ExampleResult, RunResult
from evals.reference_checks import Outcome
from evals.stats import bootstrap_mean_interval

HIGHER_IS_BETTER = {
    "token_f1": True,
    "similarity": True,
    "gold_recall": True,
    "abstention_accuracy": True,
    "hallucination_rate": False,
    "faithfulness": True,
    "citation_recall": True,
    "citation_precision": True,
    "latency_s": False,
    "correct": True,
    "wrong_shown": False,
    "abstained_unanswerable": True,
    "shows_unsupported": False,
}
"""The direction of every comparable metric (judge metrics take ``<judge>.`` in front)."""

Extractor = Callable[[ExampleResult], float | None]


@dataclass(frozen=True)
class Delta:
    """One metric's change from run A to run B, with its 95% bootstrap interval."""

    metric: str
    a: float
    b: float
    delta: float
    low: float
    high: float
    n: int
    higher_is_better: bool
    threshold: float | None = None
    require_significance: bool = False

    @property
    def significant(self) -> bool:
        """True when the 95% interval of the change excludes zero."""
        return self.low > 0 or self.high < 0

    @property
    def regressed(self) -> bool:
        """True when the change goes the wrong way by more than the threshold (and, with
        ``require_significance``, its interval excludes no change, so noise alone on a large
        set does not fail the gate)."""
        if self.threshold is None:
            return False
        worse = -self.delta if self.higher_is_better else self.delta
        return worse > self.threshold and (self.significant or not self.require_significance)


def extractors(judges: Sequence[str]) -> dict[str, Extractor]:
    """Per-question value functions for every metric of runs graded by ``judges``."""
    table: dict[str, Extractor] = {
        "token_f1": lambda r: r.token_f1,
        "similarity": lambda r: r.similarity,
        "gold_recall": lambda r: r.gold_recall,
        "abstention_accuracy": _abstention_accuracy,
        "latency_s": lambda r: r.latency_s if r.answer is not None else None,
        "correct": _outcome(Outcome.CORRECT, answerable=True),
        "wrong_shown": _outcome(Outcome.WRONG_SHOWN, answerable=True),
        "abstained_unanswerable": _outcome(Outcome.ABSTAINED_UNANSWERABLE, answerable=False),
        "shows_unsupported": _shows_unsupported,
    }
    for judge in judges:
        table[f"{judge}.hallucination_rate"] = _graded(judge, lambda g: float(g.hallucinated))
        table[f"{judge}.faithfulness"] = _graded(judge, lambda g: g.faithfulness)
        table[f"{judge}.citation_recall"] = _graded(judge, lambda g: g.citation_recall)
        table[f"{judge}.citation_precision"] = _graded(judge, lambda g: g.citation_precision)
    return table


def compare_runs(
    a: RunResult,
    b: RunResult,
    *,
    thresholds: Mapping[str, float] | None = None,
    require_significance: bool = False,
    resamples: int = 2000,
    seed: int = 0,
) -> list[Delta]:
    """Deltas B - A for every metric both runs can be compared on."""
    thresholds = thresholds or {}
    unknown = set(thresholds) - set(extractors(sorted(set(a.judges) | set(b.judges))))
    if unknown:
        raise ValueError(f"unknown metric(s) in thresholds: {', '.join(sorted(unknown))}")
    judges = sorted(set(a.judges) & set(b.judges))
    by_id_b = {r.example.id: r for r in b.examples}
    pairs = [(r, by_id_b[r.example.id]) for r in a.examples if r.example.id in by_id_b]
    rng = np.random.default_rng(seed)
    deltas = []
    for metric, value in extractors(judges).items():
        paired = [(value(x), value(y)) for x, y in pairs]
        values = [(x, y) for x, y in paired if x is not None and y is not None]
        if not values:
            continue
        differences = [y - x for x, y in values]
        low, high = bootstrap_mean_interval(differences, rng=rng, resamples=resamples)
        mean_a = statistics.fmean(x for x, _ in values)
        mean_b = statistics.fmean(y for _, y in values)
        deltas.append(
            Delta(
                metric=metric,
                a=mean_a,
                b=mean_b,
                delta=mean_b - mean_a,
                low=low,
                high=high,
                n=len(values),
                higher_is_better=HIGHER_IS_BETTER[metric.rsplit(".", 1)[-1]],
                threshold=thresholds.get(metric),
                require_significance=require_significance,
            )
        )
    return deltas


def _abstention_accuracy(result: ExampleResult) -> float | None:
    if result.answer is None:
        return None
    return float(result.answer.abstained != result.example.answerable)


def _outcome(wanted: Outcome, *, answerable: bool) -> Extractor:
    """1.0 when a reference-checked question of the given kind had the ``wanted`` outcome."""

    def value(result: ExampleResult) -> float | None:
        if result.outcome is None or result.example.answerable is not answerable:
            return None
        return float(result.outcome is wanted)

    return value


def _shows_unsupported(result: ExampleResult) -> float | None:
    shown = result.shows_unsupported
    return (
        None if shown is None or result.answer is None or result.answer.abstained else float(shown)
    )


def _graded(judge: str, field: Callable[..., float | None]) -> Extractor:
    def value(result: ExampleResult) -> float | None:
        if result.answer is None or result.answer.abstained or judge not in result.grades:
            return None
        return field(result.grades[judge])

    return value
