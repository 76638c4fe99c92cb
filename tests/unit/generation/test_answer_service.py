"""The answer service's control flow, over a real qdrant-client in-memory index with the
hashing fake embedder and a scripted generator (no model needed)."""

import threading

import pytest

from core.models import Principal
from generation.abstention import ABSTENTION_ANSWER, AbstentionPolicy
from generation.answer import (
    AnswerOptions,
    AnswerService,
    DeltaEvent,
    FinalEvent,
    GeneratorTokenCounter,
    SourcesEvent,
)
from generation.answer_types import (
    AbstainReason,
    ChatMessage,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    Role,
)
from generation.finalize import AnswerChecker
from generation.grounding import LexicalEmbeddingJudge
from generation.prompting import PromptBuilder
from retrieval.context import ContextAssembler
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.search import Searcher
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator

EMPLOYEE = Principal(user_id="eve")


def context(
    generator: FakeGenerator, index: QdrantClientIndex
) -> tuple[ContextAssembler, PromptBuilder]:
    """What the composition root hands the service: the context assembler and the prompt
    builder, both counting the generator's tokens."""
    return (
        ContextAssembler(GeneratorTokenCounter(generator), index),
        PromptBuilder(generator, answer_tokens=AnswerOptions().max_answer_tokens),
    )


def service(index: QdrantClientIndex, generator: FakeGenerator, **options: object) -> AnswerService:
    embedder = FakeEmbedder()
    return AnswerService(
        Searcher(index, embedder, QdrantBm25Encoder()),
        generator,
        AnswerChecker(LexicalEmbeddingJudge(embedder), embedder=embedder),
        *context(generator, index),
        policy=AbstentionPolicy(min_retrieval_similarity=0.2),
        options=AnswerOptions(k=3, **options),  # type: ignore[arg-type]
    )


def test_a_cited_answer_is_checked_and_timed(index: QdrantClientIndex) -> None:
    generator = FakeGenerator(["Employees accrue 1.75 days of paid vacation per month [1]."])
    answer = service(index, generator).answer("How much paid vacation per month?", EMPLOYEE)
    assert not answer.abstained
    assert answer.citations[0].source_uri.endswith("leave.md")
    assert {"retrieve", "assemble", "prompt", "generate", "check", "total"} <= set(answer.timings)
    prompt = generator.requests[0].messages[-1].content
    assert "1.75 days" in prompt and "$128,000" not in prompt  # only what eve may read


def test_a_far_off_question_abstains_without_calling_the_model(
    index: QdrantClientIndex,
) -> None:
    generator = FakeGenerator(["should not be used"])
    answer = service(index, generator).answer("Quantum chromodynamics lattice gauge?", EMPLOYEE)
    assert answer.abstained and answer.abstain_reason is AbstainReason.WEAK_RETRIEVAL
    assert answer.text == ABSTENTION_ANSWER
    assert generator.requests == []


def test_streaming_sends_sources_then_deltas_then_the_checked_answer(
    index: QdrantClientIndex,
) -> None:
    reply = "Meals are reimbursed up to $75 per day [1]. Parking in Berlin is free [1]."
    events = list(
        service(index, FakeGenerator([reply])).stream("Meal reimbursement per day?", EMPLOYEE)
    )
    assert isinstance(events[0], SourcesEvent)
    assert isinstance(events[-1], FinalEvent)
    deltas = "".join(e.text for e in events if isinstance(e, DeltaEvent))
    final = events[-1].answer
    assert deltas == reply == final.model_text
    assert [v.supported for v in final.verdicts] == [True, False]  # Berlin is withheld
    assert final.text == "Meals are reimbursed up to $75 per day [1]."
    assert [w.sentence for w in final.withheld] == ["Parking in Berlin is free [1]."]


def test_the_demo_salary_question_abstains_when_its_only_answer_is_unsupported(
    index: QdrantClientIndex,
) -> None:
    # What the default model answered an employee in the demo: the HR-only band is not
    # retrievable, so the figure cites nothing; the second sentence only points at a document.
    reply = (
        "The salary band for an L3 Software Engineer is 64% of the base salary. "
        "This can be found in the Northwind Robotics IT Handbook [1]."
    )
    embedder = FakeEmbedder()
    generator = FakeGenerator([reply])
    answers = AnswerService(
        Searcher(index, embedder, QdrantBm25Encoder()),
        generator,
        AnswerChecker(LexicalEmbeddingJudge(embedder), embedder=embedder),
        *context(generator, index),
        policy=AbstentionPolicy(min_retrieval_similarity=None),  # the model is asked
    )
    answer = answers.answer("What is the salary band for an L3 engineer?", EMPLOYEE)
    assert answer.abstained and answer.abstain_reason is AbstainReason.UNSUPPORTED
    assert answer.text == ABSTENTION_ANSWER
    assert answer.citations == ()
    assert "64%" not in answer.text
    assert [w.sentence for w in answer.withheld] == [
        "The salary band for an L3 Software Engineer is 64% of the base salary."
    ]


class _CutOff(FakeGenerator):
    def generate(self, request: GenerationRequest) -> GenerationResult:
        result = super().generate(request)
        return result.model_copy(update={"finish_reason": FinishReason.LENGTH})


def test_a_reply_cut_off_by_max_tokens_loses_its_half_sentence(
    index: QdrantClientIndex,
) -> None:
    generator = _CutOff(["Employees accrue 1.75 days of paid vacation per month [1]. They can"])
    answer = service(index, generator).answer("How much paid vacation per month?", EMPLOYEE)
    assert answer.text.endswith("[1].")
    assert len(answer.verdicts) == 1


def test_a_follow_up_is_condensed_before_retrieval(index: QdrantClientIndex) -> None:
    generator = FakeGenerator(
        [
            "How much are meals reimbursed per day?",
            "Meals are reimbursed up to $75 per day [1].",
        ]
    )
    history = (
        ChatMessage(role=Role.USER, content="What does the travel policy cover?"),
        ChatMessage(role=Role.ASSISTANT, content="Travel costs [1]."),
    )
    answer = service(index, generator).answer("And meals?", EMPLOYEE, history=history)
    assert answer.question == "How much are meals reimbursed per day?"
    assert "condense" in answer.timings
    assert answer.citations[0].source_uri.endswith("expenses.md")
    assert len(generator.requests) == 2


def test_an_empty_question_is_refused(index: QdrantClientIndex) -> None:
    with pytest.raises(ValueError, match="empty"):
        service(index, FakeGenerator()).answer("   ", EMPLOYEE)


class _WarmableJudge(LexicalEmbeddingJudge):
    warmed = False

    def warm_up(self) -> None:
        self.warmed = True


def test_warm_up_loads_the_generator_and_a_judge_that_has_a_model(
    index: QdrantClientIndex,
) -> None:
    generator = FakeGenerator([])
    judge = _WarmableJudge(FakeEmbedder())
    AnswerService(
        Searcher(index, FakeEmbedder(), QdrantBm25Encoder()),
        generator,
        AnswerChecker(judge),
        *context(generator, index),
        policy=AbstentionPolicy(min_retrieval_similarity=0.2),
    ).warm_up()
    assert generator.warmed and judge.warmed
    service(index, generator).warm_up()  # the lexical judge has nothing to load


class _SlowLoadingGenerator(FakeGenerator):
    """Its load starts on another thread and takes until retrieval has begun."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.load_started = threading.Event()
        self.search_started = threading.Event()
        self.loads: list[str] = []

    def warm_up(self) -> None:
        self.loads.append(threading.current_thread().name)
        self.load_started.set()
        # Both in flight at once, or this times out: the load overlaps retrieval.
        self.overlapped = self.search_started.wait(timeout=10)
        super().warm_up()


class _SignallingSearcher(Searcher):
    def __init__(self, generator: _SlowLoadingGenerator, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._generator = generator

    def search(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        self._generator.search_started.set()
        assert self._generator.load_started.wait(timeout=10)
        return super().search(*args, **kwargs)  # type: ignore[arg-type]


def test_an_unwarmed_service_loads_the_model_while_it_retrieves(
    index: QdrantClientIndex,
) -> None:
    generator = _SlowLoadingGenerator(["Meals are reimbursed up to $75 per day [1]."])
    embedder = FakeEmbedder()
    answers = AnswerService(
        _SignallingSearcher(generator, index, embedder, QdrantBm25Encoder()),
        generator,
        AnswerChecker(LexicalEmbeddingJudge(embedder), embedder=embedder),
        *context(generator, index),
        policy=AbstentionPolicy(min_retrieval_similarity=0.2),
    )
    first = answers.answer("Meal reimbursement per day?", EMPLOYEE)
    answers.answer("Meal reimbursement per day?", EMPLOYEE)
    assert not first.abstained
    assert generator.loads == ["llm-warm-up"]  # once, on its own thread
    assert generator.overlapped


def test_a_warmed_service_starts_no_early_load(index: QdrantClientIndex) -> None:
    generator = FakeGenerator(["Meals are reimbursed up to $75 per day [1]."])
    answers = service(index, generator)
    answers.warm_up()
    generator.warmed = False
    answers.answer("Meal reimbursement per day?", EMPLOYEE)
    assert not generator.warmed
