import pytest

from generation.meta_sentences import is_pointer


@pytest.mark.parametrize(
    "sentence",
    [
        "This can be found in the Northwind Robotics IT Handbook [4].",
        "This is stated in the Leave Policy [1].",
        "There are specific rules for travel, which are outlined in the Travel Policy [1].",
        "There are rules for this, and they are in document X [1].",
        "For more details, see the Expense Policy [2].",
        "See [2].",
        "The information is available in the Benefits Overview [3].",
        "The rules are described in the Security Policy [2].",
    ],
)
def test_sentences_that_only_point_at_a_source(sentence: str) -> None:
    assert is_pointer(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        # A fact followed by where it is written states the fact.
        "Employees get 18 weeks of leave, as stated in the Leave Policy [1].",
        "Expense reports must be approved by the manager, as described in [1].",
        "Laptops are available in the IT office on the third floor [1].",
        "Security incidents must be reported to the security team [1].",
        "Passwords must be at least sixteen characters long [1].",
        "Badges are in the top drawer.",
    ],
)
def test_sentences_that_state_something(sentence: str) -> None:
    assert not is_pointer(sentence)
