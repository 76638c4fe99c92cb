import pytest

from generation.similarity import cosine_matrix, facts, term_coverage, terms
from tests.unit.generation.fakes import FakeEmbedder


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("$1,500.00", "1500"),
        ("15%", "15 percent"),
        ("twenty-five days", "25 days"),
        ("Twelve weeks", "12 weeks"),
        ("240.50", "240.5"),
        ("Jan. 5", "5 January"),
        ("in Sept.", "in September"),
        ("at 9:00", "at 9 a.m."),
    ],
)
def test_equal_facts_in_different_forms_compare_equal(left: str, right: str) -> None:
    assert facts(left) == facts(right)


def test_facts_tell_different_figures_apart() -> None:
    assert facts("$240 per night") != facts("$310 per night")
    assert facts("at 9:30") == frozenset({"9:30"})
    assert facts("in March 2024") == frozenset({"month:march", "2024"})


def test_words_that_look_like_months_are_not_months() -> None:
    assert facts("Staff may claim marketing costs in December.") == frozenset({"month:december"})
    assert facts("The decision is final.") == frozenset()


def test_terms_and_coverage() -> None:
    wanted = terms("Employees are reimbursed for hotels")
    assert "the" not in wanted
    assert term_coverage(wanted, terms("Hotel reimbursement for employees")) == 1.0
    assert term_coverage(frozenset(), frozenset({"x"})) == 1.0


def test_cosine_matrix_embeds_each_text_once_in_one_batch() -> None:
    embedder = FakeEmbedder()
    matrix = cosine_matrix(embedder, ["a b", "c d"], ["a b", "x y"])
    assert len(embedder.batches) == 1
    assert sorted(embedder.batches[0]) == ["a b", "c d", "x y"]
    assert matrix[0][0] == pytest.approx(1.0)
    assert matrix[0][1] == pytest.approx(0.0)
    assert cosine_matrix(embedder, ["a"], []) == [[]]


def test_the_word_one_can_be_left_out_for_claims() -> None:
    assert facts("one of the benefits") == frozenset({"1"})
    assert facts("one of the benefits", word_one=False) == frozenset()
    assert facts("one or two days", word_one=False) == frozenset({"2"})
