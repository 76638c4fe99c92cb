"""The trade-off between answering and being right: sweep the check's thresholds over a dataset.

Raising the bar for what is shown (the judge's support threshold, the answer-relevance
threshold) turns wrong answers into abstentions, and, past some point, right answers too. A
sweep answers the same questions under each combination of settings and reports the
reference-checked outcomes (``correct``, ``wrong_shown``, ``abstained_unanswerable``) for
each, so the default is picked from the curve rather than by taste.

The model's replies come from the evaluation's reply cache (``evals.llm_cache``): settings
that act after generation cost retrieval and the check only, about a second a question.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.settings import Settings
from evals.answer_run import grade, run_answers, summarise
from evals.backends import AnswerBackend
from evals.dataset import EvalExample
from evals.generation_cache import GenerationCache
from retrieval.embedder import Embedder

Overrides = Mapping[str, Any]
"""Dotted setting names and values: ``{"answer.min_relevance": 0.4}``."""

REPORTED = (
    "correct_rate",
    "wrong_shown_rate",
    "abstained_answerable_rate",
    "abstained_unanswerable_rate",
    "shows_unsupported_rate",
    "withheld_rate",
    "quoted_rate",
)


@dataclass(frozen=True)
class SweepPoint:
    """One combination of settings and the summary of its run."""

    overrides: dict[str, Any]
    summary: dict[str, float | None]


def parse_axis(text: str) -> tuple[str, list[Any]]:
    """``"answer.min_relevance=null,0.4,0.5"`` as ``("answer.min_relevance", [None, 0.4, 0.5])``
    (values are read as YAML scalars: numbers, ``null``, ``true``, words)."""
    import yaml

    name, sep, values = text.partition("=")
    if not sep or "." not in name or not values.strip():
        raise ConfigError(f"a sweep axis is SECTION.SETTING=V1,V2,...: got {text!r}")
    return name.strip(), [yaml.safe_load(v.strip()) for v in values.split(",")]


def grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values (the first axis varies slowest)."""
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*axes.values())]


def with_overrides(settings: Settings, overrides: Overrides) -> Settings:
    """``settings`` with each dotted setting replaced, validated by its section's model."""
    sections: dict[str, dict[str, Any]] = {}
    for name, value in overrides.items():
        section, _, field = name.partition(".")
        sections.setdefault(section, {})[field] = value
    updates = {}
    for section, fields in sections.items():
        current = getattr(settings, section, None)
        if current is None or not hasattr(current, "model_validate"):
            raise ConfigError(f"unknown settings section {section!r}")
        unknown = set(fields) - set(type(current).model_fields)
        if unknown:
            raise ConfigError(f"unknown setting(s) {section}.{', '.join(sorted(unknown))}")
        updates[section] = type(current).model_validate({**current.model_dump(), **fields})
    return settings.model_copy(update=updates)


def sweep(
    examples: Sequence[EvalExample],
    points: Iterable[Overrides],
    backend_for: Callable[[Overrides], tuple[AnswerBackend, str]],
    cache: GenerationCache,
    embedder: Embedder,
    *,
    progress: Callable[[], None] | None = None,
) -> list[SweepPoint]:
    """Answer ``examples`` under every point's settings (``backend_for`` builds the answer
    backend and its configuration id for a point) and summarise each run. No judge grades
    them: the outcomes come from the reference keys, and the check's own verdicts are in the
    answers."""
    results = []
    for overrides in points:
        backend, config_id = backend_for(overrides)
        answers = run_answers(examples, backend, cache, config_id=config_id)
        graded = grade(answers, {}, embedder)
        results.append(SweepPoint(dict(overrides), summarise(graded, ())))
        if progress is not None:
            progress()
    return results


def markdown_table(points: Sequence[SweepPoint]) -> str:
    """The sweep as a Markdown table: one row a point, its settings then ``REPORTED``."""
    if not points:
        return ""
    names = list(points[0].overrides)
    header = [*names, *(m.removesuffix("_rate") for m in REPORTED)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for point in points:
        values = [_cell(point.overrides[n]) for n in names]
        values += [_cell(point.summary.get(m)) for m in REPORTED]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
