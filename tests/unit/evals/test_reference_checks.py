from evals.reference_checks import Outcome, missing_keys, normalise, outcome, states_key


def test_normalising_folds_case_markers_separators_and_typography() -> None:
    assert normalise("Up to $1,000 [2] \u2013 \u201cper\u201d  YEAR") == 'up to $1000 - "per" year'


def test_a_key_matches_any_spelling_but_not_inside_a_longer_number_or_word() -> None:
    assert states_key("Parental leave is eighteen weeks [1].", ["18 weeks", "eighteen weeks"])
    assert states_key("It is $1,500 per year.", ["$1500"])
    assert not states_key("It is 118 weeks.", ["18 weeks"])
    assert not states_key("The passcode is 16x.", ["16"])


def test_missing_keys_lists_the_keys_not_stated() -> None:
    keys = [["1.75 days"], ["21 days"]]
    assert missing_keys("You accrue 1.75 days a month [1].", keys) == [["21 days"]]


def test_outcomes() -> None:
    keys = [["$75"]]
    assert outcome(answerable=True, abstained=False, text="Up to $75 [1].", keys=keys) is (
        Outcome.CORRECT
    )
    assert outcome(answerable=True, abstained=False, text="Up to $50 [1].", keys=keys) is (
        Outcome.WRONG_SHOWN
    )
    assert outcome(answerable=True, abstained=True, text="", keys=keys) is (
        Outcome.ABSTAINED_ANSWERABLE
    )
    assert outcome(answerable=False, abstained=True, text="", keys=()) is (
        Outcome.ABSTAINED_UNANSWERABLE
    )
    assert outcome(answerable=False, abstained=False, text="Yes.", keys=()) is (
        Outcome.ANSWERED_UNANSWERABLE
    )
