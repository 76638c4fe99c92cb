"""Questions of several parts: the parts found, the open ones listed, and asked again."""

import pytest

from core.models import Principal
from generation.abstention import AbstentionPolicy
from generation.answer import AnswerOptions, AnswerService
from generation.finalize import AnswerChecker, CheckOptions
from generation.grounding import LexicalEmbeddingJudge
from generation.open_parts import MAX_FOLLOW_UPS, asked_parts
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.search import Searcher
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator
from tests.unit.generation.test_answer_service import context

EMPLOYEE = Principal(user_id="eve")
QUESTION = (
    "How much paid vacation do I accrue per month, and how much are meals reimbursed per day?"
)
VACATION = "Employees accrue 1.75 days of paid vacation per month [1]."
MEALS = "Meals are reimbursed up to $75 per day while travelling [2]."


def test_one_question_has_no_parts() -> None:
    assert asked_parts("How much paid vacation do I accrue per month?") == []
    assert asked_parts("I'm new here. How much paid vacation do I accrue?") == []


def test_each_part_is_asked_with_the_scene_the_question_sets() -> None:
    parts = asked_parts(
        "I'm relocating to a pricier city. Is there help with moving costs, and how long "
        "must I have worked here before asking for a location-based raise?"
    )
    assert [p.text for p in parts] == [
        "Is there help with moving costs",
        "how long must I have worked here before asking for a location-based raise?",
    ]
    assert [p.standalone for p in parts] == [
        "I'm relocating to a pricier city. Is there help with moving costs?",
        "I'm relocating to a pricier city. How long must I have worked here before asking "
        "for a location-based raise?",
    ]


def test_a_part_that_refers_back_is_asked_after_the_part_it_refers_to() -> None:
    parts = asked_parts("Who pays for my kid's sitter on a trip? Who runs it?")
    assert parts[1].standalone == "Who pays for my kid's sitter on a trip? Who runs it?"
    assert parts[0].standalone == "Who pays for my kid's sitter on a trip?"


def test_a_statement_with_and_is_scene_not_a_part() -> None:
    parts = asked_parts(
        "I'm expecting a child and may also need medical time off. How many weeks of parental "
        "leave, and how many weeks of medical leave are there?"
    )
    assert [p.text for p in parts] == [
        "How many weeks of parental leave",
        "how many weeks of medical leave are there?",
    ]
    assert parts[1].standalone.startswith("I'm expecting a child and may also need medical")


def test_a_capitalised_it_is_a_name_not_a_pronoun() -> None:
    parts = asked_parts("How fast must I report it? What's the IT help desk extension?")
    assert parts[1].standalone == "What's the IT help desk extension?"


def service(index: QdrantClientIndex, generator: FakeGenerator, open_parts: str) -> AnswerService:
    embedder = FakeEmbedder()
    return AnswerService(
        Searcher(index, embedder, QdrantBm25Encoder()),
        generator,
        AnswerChecker(
            LexicalEmbeddingJudge(embedder),
            options=CheckOptions(min_relevance=0.5, min_part_relevance=0.5),
            embedder=embedder,
        ),
        *context(generator, index),
        policy=AbstentionPolicy(min_retrieval_similarity=0.2),
        options=AnswerOptions(k=3, open_parts=open_parts),  # type: ignore[arg-type]
    )


def test_a_half_answer_lists_the_part_it_leaves_open(index: QdrantClientIndex) -> None:
    generator = FakeGenerator([VACATION])
    answer = service(index, generator, "off").answer(QUESTION, EMPLOYEE)
    assert not answer.abstained
    assert answer.unanswered_parts == ("how much are meals reimbursed per day?",)
    assert len(generator.requests) == 1


def test_the_open_part_is_asked_alone_and_its_answer_checked(index: QdrantClientIndex) -> None:
    generator = FakeGenerator([VACATION, MEALS])
    answer = service(index, generator, "ask").answer(QUESTION, EMPLOYEE)
    assert "1.75 days" in answer.text and "$75" in answer.text
    assert answer.unanswered_parts == ()
    assert {c.source_uri.rsplit("/", 1)[-1] for c in answer.citations} == {
        "leave.md",
        "expenses.md",
    }
    follow_up = generator.requests[1].messages[-1].content
    assert follow_up.endswith("Question: How much are meals reimbursed per day?")
    first = generator.requests[0].messages[-1].content
    assert follow_up.removesuffix("How much are meals reimbursed per day?") == first.removesuffix(
        QUESTION
    )  # the same sources: the model's state of them is reused
    assert "follow_up" in answer.timings


def test_an_unsupported_follow_up_is_withheld_and_the_part_stays_open(
    index: QdrantClientIndex,
) -> None:
    generator = FakeGenerator([VACATION, "Meals are reimbursed up to $300 per day [2]."])
    answer = service(index, generator, "ask").answer(QUESTION, EMPLOYEE)
    assert "$300" not in answer.text and "1.75 days" in answer.text
    assert [w.sentence for w in answer.withheld] == ["Meals are reimbursed up to $300 per day [2]."]
    assert answer.unanswered_parts == ("how much are meals reimbursed per day?",)


def test_a_declined_follow_up_adds_nothing(index: QdrantClientIndex) -> None:
    generator = FakeGenerator([VACATION, "I couldn't find this in the available documents."])
    answer = service(index, generator, "ask").answer(QUESTION, EMPLOYEE)
    assert answer.text.strip() == VACATION
    assert answer.unanswered_parts == ("how much are meals reimbursed per day?",)


def test_a_whole_decline_is_asked_again_part_by_part_only_under_ask_all(
    index: QdrantClientIndex,
) -> None:
    decline = "I couldn't find this in the available documents."
    generator = FakeGenerator([decline, VACATION, MEALS])
    assert service(index, generator, "ask").answer(QUESTION, EMPLOYEE).abstained
    assert len(generator.requests) == 1
    generator = FakeGenerator([decline, VACATION, MEALS])
    answer = service(index, generator, "ask_all").answer(QUESTION, EMPLOYEE)
    assert not answer.abstained
    assert "1.75 days" in answer.text and "$75" in answer.text
    assert "couldn't find" not in answer.text


def test_the_stream_ends_with_the_completed_answer(index: QdrantClientIndex) -> None:
    generator = FakeGenerator([VACATION, MEALS])
    events = list(service(index, generator, "ask").stream(QUESTION, EMPLOYEE))
    final = events[-1].answer  # type: ignore[union-attr]
    assert "$75" in final.text and final.unanswered_parts == ()


@pytest.mark.parametrize("parts", [3, 4])
def test_at_most_two_parts_are_asked_again(index: QdrantClientIndex, parts: int) -> None:
    question = "How much vacation per month? " + " ".join(
        f"What is rule {n} of the handbook?" for n in range(parts - 1)
    )
    generator = FakeGenerator([VACATION])
    service(index, generator, "ask").answer(question, EMPLOYEE)
    assert len(generator.requests) == 1 + MAX_FOLLOW_UPS
