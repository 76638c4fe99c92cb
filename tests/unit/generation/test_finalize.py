from generation.abstention import ABSTENTION_ANSWER, AbstentionPolicy
from generation.answer_types import AbstainReason, Answer, SentenceKind
from generation.finalize import QUOTE_LEAD, AnswerChecker, CheckOptions
from generation.grounding import LexicalEmbeddingJudge
from generation.prompting import PromptBuilder
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator, context

POLICY = (
    "Hotel costs are reimbursed up to $240 per night in major cities. "
    "Meals are covered up to $50 per day."
)
LEAVE = "Full-time employees receive 25 days of paid annual leave each year."
QUESTION = "What is the hotel limit per night?"


def answer_with(reply: str, question: str = QUESTION, **options: object) -> Answer:
    ctx = context(question, POLICY, LEAVE)
    generator = FakeGenerator([reply])
    prompt = PromptBuilder(generator).build(ctx)
    result = generator.generate(prompt.request())
    embedder = FakeEmbedder()
    checker = AnswerChecker(
        LexicalEmbeddingJudge(embedder),
        options=CheckOptions(**options),  # type: ignore[arg-type]
        embedder=embedder,
    )
    return checker.finalize(
        prompt.context, result.text, prompt_id=prompt.template_id, timings={"retrieve": 0.01}
    )


def test_a_supported_answer_carries_citations_verdicts_and_sources() -> None:
    answer = answer_with("Hotels are reimbursed up to $240 per night in major cities [1][7].")
    assert not answer.abstained and not answer.quoted
    assert answer.text == "Hotels are reimbursed up to $240 per night in major cities [1]."
    assert [c.number for c in answer.citations] == [1]
    assert answer.citations[0].quote.startswith("Hotel costs are reimbursed up to $240")
    assert [d.marker for d in answer.dropped_markers] == ["[7]"]
    assert answer.support_score == 1.0
    assert [s.number for s in answer.sources] == [1, 2]
    assert answer.prompt_id is not None and answer.prompt_id.startswith("answer_v1@")
    assert set(answer.timings) == {"retrieve", "check"}
    assert answer.flagged == () and answer.withheld == ()


REPLY = (
    "Hotels are reimbursed up to $240 per night in major cities [1]. "
    "Employees receive 30 days of paid annual leave [2]."
)


def test_unsupported_sentences_are_withheld_by_default() -> None:
    answer = answer_with(REPLY)
    assert answer.text == "Hotels are reimbursed up to $240 per night in major cities [1]."
    assert [w.sentence for w in answer.withheld] == [
        "Employees receive 30 days of paid annual leave [2]."
    ]
    assert answer.withheld[0].cited == (2,)
    assert "30" in answer.withheld[0].reason
    assert [c.number for c in answer.citations] == [1]
    assert len(answer.verdicts) == 2 and answer.support_score == 0.5
    assert answer.model_text == REPLY


def test_flag_mode_keeps_unsupported_sentences_in_the_text() -> None:
    flagged = answer_with(REPLY, withhold=False)
    assert flagged.text == REPLY
    assert flagged.withheld == ()
    assert [v.sentence for v in flagged.flagged] == [
        "Employees receive 30 days of paid annual leave [2]."
    ]
    assert [c.number for c in flagged.citations] == [1, 2]


def test_an_answer_whose_only_answering_sentence_is_unsupported_abstains() -> None:
    # The demo's failure: the figure cites nothing, and the rest only points at a document.
    reply = (
        "The hotel limit is 64% of the base salary. "
        "This can be found in the Northwind Robotics IT Handbook [2]."
    )
    answer = answer_with(reply)
    assert answer.abstained and answer.abstain_reason is AbstainReason.UNSUPPORTED
    assert answer.text == ABSTENTION_ANSWER and answer.citations == ()
    assert [w.sentence for w in answer.withheld] == ["The hotel limit is 64% of the base salary."]
    pointer = answer.verdicts[1]
    assert pointer.kind is SentenceKind.NON_FACTUAL  # neither support nor dilution


def test_a_pointer_sentence_does_not_dilute_the_support_score() -> None:
    answer = answer_with(
        "Hotels are reimbursed up to $240 per night in major cities [1]. "
        "This is stated in the travel policy [1]."
    )
    assert not answer.abstained and answer.support_score == 1.0


def test_a_supported_sentence_that_does_not_address_the_question_abstains() -> None:
    # True to its source, but the question is about parking.
    reply = "Full-time employees receive 25 days of paid annual leave each year [2]."
    question = "How much does parking cost at the office?"
    off = answer_with(reply, question, min_relevance=0.5)
    assert off.abstained and off.abstain_reason is AbstainReason.OFF_QUESTION
    claim = off.verdicts[0]
    assert claim.supported and claim.relevance is not None and claim.relevance < 0.5
    on = answer_with(reply, "How many days of paid annual leave do employees receive?")
    assert not on.abstained


def test_a_terse_figure_answers_through_the_sentence_it_rests_on() -> None:
    answer = answer_with("$240 [1].", "What is the hotel limit per night?", min_relevance=0.4)
    assert answer.verdicts[0].relevance is not None and answer.verdicts[0].relevance > 0.4
    assert not answer.abstained, answer.verdicts


def test_a_quantity_question_is_not_answered_by_a_claim_without_a_figure() -> None:
    reply = "Hotel costs are reimbursed in major cities [1]."
    off = answer_with(reply, "How much is reimbursed per night for hotels?", min_relevance=0.1)
    assert off.abstained and off.abstain_reason is AbstainReason.OFF_QUESTION
    fine = answer_with(reply, "Which hotel costs are reimbursed?", min_relevance=0.1)
    assert not fine.abstained


def test_a_declining_model_gives_the_standard_abstention() -> None:
    answer = answer_with("The provided sources do not mention a hotel limit for Mars.")
    assert answer.abstained
    assert answer.abstain_reason is AbstainReason.MODEL_DECLINED
    assert answer.text == ABSTENTION_ANSWER
    assert answer.citations == ()
    assert answer.model_text == "The provided sources do not mention a hotel limit for Mars."
    assert len(answer.sources) == 2


def test_a_quote_replaces_a_decline_when_a_source_sentence_addresses_the_question() -> None:
    decline = "The provided sources do not mention the hotel limit."
    quoted = answer_with(
        decline, "How much are hotel costs reimbursed per night?", quote_min_relevance=0.3
    )
    assert quoted.quoted and not quoted.abstained
    assert quoted.text == (
        f'{QUOTE_LEAD} "Hotel costs are reimbursed up to $240 per night in major cities." [1]'
    )
    assert [c.number for c in quoted.citations] == [1]
    span = quoted.citations[0].quote_span
    assert span is not None and POLICY[span[0] : span[1]] == quoted.citations[0].quote
    # Nothing close enough: the abstention stands.
    far = answer_with(decline, "Is there a gym on site?", quote_min_relevance=0.3)
    assert far.abstained and not far.quoted


def test_an_answer_with_nothing_supported_abstains() -> None:
    answer = answer_with("Hotels are reimbursed up to $999 per night [1]. Parking is free.")
    assert answer.abstained
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED
    assert len(answer.verdicts) == 2
    assert len(answer.withheld) == 2


def test_the_exact_abstention_sentence_abstains() -> None:
    answer = answer_with(ABSTENTION_ANSWER)
    assert answer.abstain_reason is AbstainReason.MODEL_DECLINED


def test_an_empty_reply_abstains() -> None:
    answer = answer_with("")
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED


def test_the_policy_is_pluggable() -> None:
    ctx = context("q", POLICY)
    checker = AnswerChecker(
        LexicalEmbeddingJudge(FakeEmbedder()), policy=AbstentionPolicy(min_support_score=0.9)
    )
    answer = checker.finalize(
        ctx, "Hotels are reimbursed up to $240 per night in major cities [1]. Parking is free."
    )
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED
