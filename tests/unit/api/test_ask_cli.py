"""What `citewise ask` prints under an answer: withheld statements and open parts."""

from api.cli import ask
from tests.unit.store.test_review_store import plain_answer, withheld_answer


def details(answer: object) -> str:
    with ask.out.capture() as captured:
        ask._print_details(answer)  # type: ignore[arg-type]
    return captured.get()


def test_a_half_answer_names_the_part_the_sources_do_not_answer() -> None:
    half = plain_answer("What is the meal limit, and how quickly is it refunded?").model_copy(
        update={"unanswered_parts": ("how quickly is it refunded?",)}
    )
    assert "Not answered by the sources: how quickly is it refunded?" in details(half)
    assert "Not answered" not in details(plain_answer())


def test_withheld_statements_are_counted_and_listed_on_request() -> None:
    assert "1 statement was withheld" in details(withheld_answer())
    assert "Unused days double" not in details(withheld_answer())
    with ask.out.capture() as captured:
        ask._print_details(withheld_answer(), show_withheld=True)
    assert "Unused days double every year" in captured.get()
