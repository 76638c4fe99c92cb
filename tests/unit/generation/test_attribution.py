from generation.attribution import attribute_uncited, recite
from generation.citations import parse_answer
from generation.finalize import AnswerChecker, CheckOptions
from generation.grounding import LexicalEmbeddingJudge
from tests.unit.generation.fakes import FakeEmbedder, context

CONTEXT = context(
    "How much vacation do employees get?",
    "Employees accrue 1.75 days of paid vacation per month.",
    "Meals are reimbursed up to $75 per day while travelling.",
)


def judge() -> LexicalEmbeddingJudge:
    return LexicalEmbeddingJudge(FakeEmbedder())


def test_an_uncited_supported_claim_is_cited_to_its_source() -> None:
    parsed = parse_answer("Employees accrue 1.75 days of paid vacation per month.", 2)
    result = attribute_uncited(parsed, CONTEXT, judge())
    assert result.parsed.text == "Employees accrue 1.75 days of paid vacation per month [1]."
    assert result.parsed.sentences[0].cited == (1,)
    assert result.attributed == frozenset({0})


def test_the_best_supporting_source_is_chosen_not_the_first() -> None:
    parsed = parse_answer("Meals are reimbursed up to $75 per day.", 2)
    result = attribute_uncited(parsed, CONTEXT, judge())
    assert result.parsed.sentences[0].cited == (2,)


def test_an_unsupported_claim_stays_uncited() -> None:
    parsed = parse_answer("Parking at the Berlin office costs $9 per day.", 2)
    result = attribute_uncited(parsed, CONTEXT, judge())
    assert result.parsed == parsed
    assert result.attributed == frozenset()


def test_cited_sentences_and_declines_are_left_alone() -> None:
    text = "Meals are reimbursed up to $75 per day [2]. I couldn't find this in the documents."
    parsed = parse_answer(text, 2)
    assert attribute_uncited(parsed, CONTEXT, judge()).parsed.text == parsed.text


def test_finalize_marks_attributed_verdicts_and_can_be_turned_off() -> None:
    text = "Employees accrue 1.75 days of paid vacation per month."
    answer = AnswerChecker(judge()).finalize(CONTEXT, text)
    assert not answer.abstained
    assert [c.number for c in answer.citations] == [1]
    assert answer.verdicts[0].attributed and answer.verdicts[0].supported
    strict = AnswerChecker(judge(), options=CheckOptions(attribute_uncited=False)).finalize(
        CONTEXT, text
    )
    assert strict.abstained and not strict.citations


def test_a_claim_whose_citation_does_not_hold_cites_the_source_that_does() -> None:
    for text in (
        "Meals are reimbursed up to $75 per day [1].",
        "Meals are reimbursed up to $75 per day. [1]",
    ):
        parsed = parse_answer(text, 2)
        result = recite(parsed, CONTEXT, judge(), [0])
        assert result.parsed.text == "Meals are reimbursed up to $75 per day [2].", text
        assert result.attributed == frozenset({0})
    # Nothing else supports it: the claim keeps its citation (and will be withheld).
    wrong = parse_answer("Meals are reimbursed up to $99 per day [1].", 2)
    assert recite(wrong, CONTEXT, judge(), [0]).parsed == wrong


def test_finalize_recites_a_miscited_claim_and_marks_it_attributed() -> None:
    answer = AnswerChecker(judge()).finalize(
        CONTEXT, "Meals are reimbursed up to $75 per day while travelling [1]."
    )
    assert not answer.abstained and answer.withheld == ()
    assert [c.number for c in answer.citations] == [2]
    assert answer.verdicts[0].attributed and answer.verdicts[0].supported
