from collections.abc import Mapping
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings
from evals.dataset import EvalExample
from evals.generation_cache import GenerationCache
from evals.tradeoff import grid, markdown_table, parse_axis, sweep, with_overrides
from generation.abstention import ABSTENTION_ANSWER
from generation.answer_types import Answer
from tests.unit.generation.fakes import FakeEmbedder

EXAMPLES = (
    EvalExample(id="a", question="How long is parental leave?", must_contain=(("18 weeks",),)),
    EvalExample(id="u", question="Is there a gym?", answerable=False),
)


def test_axes_are_parsed_as_yaml_scalars_and_combined() -> None:
    assert parse_axis("answer.min_relevance=null, 0.4,0.5") == (
        "answer.min_relevance",
        [None, 0.4, 0.5],
    )
    points = grid({"a.x": [1, 2], "a.y": ["p", "q"]})
    assert points == [
        {"a.x": 1, "a.y": "p"},
        {"a.x": 1, "a.y": "q"},
        {"a.x": 2, "a.y": "p"},
        {"a.x": 2, "a.y": "q"},
    ]
    with pytest.raises(ConfigError):
        parse_axis("min_relevance=0.4")


def test_overrides_are_validated_by_their_section() -> None:
    settings = Settings.load()
    changed = with_overrides(settings, {"answer.min_relevance": 0.75, "search.k": 4})
    assert changed.answer.min_relevance == 0.75 and changed.search.k == 4
    assert settings.answer.min_relevance != 0.75  # the original is untouched
    with pytest.raises(ConfigError, match=r"answer\.nope"):
        with_overrides(settings, {"answer.nope": 1})
    with pytest.raises(ValueError):
        with_overrides(settings, {"answer.min_relevance": 7})


class _ThresholdBackend:
    """Answers the answerable question unless the threshold is above 0.5, and always answers
    the unanswerable one below 0.3."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def answer(self, example: EvalExample) -> Answer:
        answers = (example.answerable and self.threshold <= 0.5) or self.threshold < 0.3
        text = "Parental leave is 18 weeks [1]." if answers else ABSTENTION_ANSWER
        return Answer(question=example.question, text=text, abstained=not answers)


def test_the_sweep_reports_reference_outcomes_per_point(tmp_path: Path) -> None:
    def backend_for(overrides: Mapping[str, object]) -> tuple[_ThresholdBackend, str]:
        threshold = float(overrides["answer.min_relevance"])  # type: ignore[arg-type]
        return _ThresholdBackend(threshold), f"t{threshold}"

    points = sweep(
        EXAMPLES,
        grid({"answer.min_relevance": [0.2, 0.4, 0.6]}),
        backend_for,
        GenerationCache(tmp_path / "cache.jsonl"),
        FakeEmbedder(),
    )
    rates = [(p.summary["correct_rate"], p.summary["abstained_unanswerable_rate"]) for p in points]
    assert rates == [(1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    table = markdown_table(points)
    assert table.splitlines()[0].startswith("| answer.min_relevance | correct | wrong_shown")
    assert "| 0.400 | 1.000 | 0.000 |" in table
