"""The answer evaluation's orchestration, over a fake system under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.models import Principal
from core.settings import Settings
from evals.answer_eval import (
    EvalSystem,
    ServiceFactory,
    choose_examples,
    run_answer_eval,
    run_config_id,
    run_tradeoff,
)
from evals.dataset import EvalExample
from evals.qa_datasets import QaDataset
from generation.abstention import ABSTENTION_ANSWER
from generation.answer_types import Answer
from generation.generator import Generator
from generation.grounding import LexicalEmbeddingJudge, SupportJudge
from retrieval.embedder import Embedder
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator

EXAMPLES = (
    EvalExample(id="a", question="How long is parental leave?", must_contain=(("18 weeks",),)),
    EvalExample(id="u", question="Is there a gym?", answerable=False),
)


class _Service:
    def __init__(self, settings: Settings) -> None:
        self.threshold = settings.answer.min_relevance or 0.0

    def answer(self, question: str, principal: Principal) -> Answer:
        answers = "leave" in question and self.threshold <= 0.5
        text = "Parental leave is 18 weeks [1]." if answers else ABSTENTION_ANSWER
        return Answer(question=question, text=text, abstained=not answers)


class _System:
    def __init__(self) -> None:
        self.opened: list[tuple[Path | None, str]] = []

    def embedder(self, settings: Settings) -> Embedder:
        return FakeEmbedder()  # type: ignore[return-value]

    def generator(self, settings: Settings) -> Generator:
        return FakeGenerator([])  # type: ignore[return-value]

    def pipeline_id(self, settings: Settings) -> str:
        return "p1"

    @contextmanager
    def open_corpus(
        self, settings: Settings, embedder: Embedder, data: QaDataset
    ) -> Iterator[ServiceFactory]:
        self.opened.append((settings.index.path, data.name))

        def services(chosen: Settings, generator: Generator) -> Any:
            return _Service(chosen)

        yield services

    def judges(
        self,
        names: Sequence[str],
        settings: Settings,
        embedder: Embedder,
        generator: Generator | None,
    ) -> dict[str, SupportJudge]:
        return {name: LexicalEmbeddingJudge(embedder) for name in names}


def _data(tmp_path: Path) -> QaDataset:
    return QaDataset("tiny", tmp_path / "corpus", None, EXAMPLES)


def test_a_run_answers_in_its_own_index_and_grades(tmp_path: Path) -> None:
    system = _System()
    said: list[str] = []
    shown: list[tuple[str, int]] = []

    @contextmanager
    def bar(label: str, total: int) -> Iterator[Callable[[], None]]:
        shown.append((label, total))
        yield lambda: None

    checked: EvalSystem = system
    result = run_answer_eval(
        Settings.load(data_dir=tmp_path, answer={"min_relevance": 0.4}),
        _data(tmp_path),
        EXAMPLES,
        judges=("lexical",),
        out_dir=tmp_path / "out",
        system=checked,
        bar=bar,
        say=said.append,
    )
    assert system.opened == [(tmp_path / "out" / "index" / "tiny-p1" / "index", "tiny")]
    assert result.backend == "in-process" and result.dataset == "tiny"
    assert result.summary["correct_rate"] == 1.0
    assert shown == [("answering", 2), ("grading", 2)]
    assert said == ["grading 2 answers with lexical"]


def test_the_config_id_follows_the_shaping_settings_and_the_pipeline() -> None:
    settings = Settings.load()
    same = settings.model_copy(update={"llm": settings.llm.model_copy(update={"threads": 3})})
    assert run_config_id(settings, "p1") == run_config_id(same, "p1")
    assert run_config_id(settings, "p1") != run_config_id(settings, "p2")


def test_a_sample_is_the_same_every_time() -> None:
    many = tuple(EvalExample(id=str(i), question=f"q{i}") for i in range(20))
    first = choose_examples(many, sample=5)
    assert len(first) == 5 and first == choose_examples(many, sample=5)
    assert choose_examples(many, limit=3) == many[:3]


def test_the_tradeoff_answers_each_point(tmp_path: Path) -> None:
    points = run_tradeoff(
        Settings.load(data_dir=tmp_path),
        _data(tmp_path),
        {"answer.min_relevance": [0.4, 0.6]},
        out_dir=tmp_path / "out",
        system=_System(),
    )
    assert [p.summary["correct_rate"] for p in points] == [1.0, 0.0]
