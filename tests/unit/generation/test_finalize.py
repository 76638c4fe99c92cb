from generation.abstention import ABSTENTION_ANSWER, AbstentionPolicy
from generation.finalize import finalize_answer
from generation.grounding import LexicalEmbeddingJudge
from generation.models import AbstainReason
from generation.prompting import PromptBuilder
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator, context

POLICY = (
    "Hotel costs are reimbursed up to $240 per night in major cities. "
    "Meals are covered up to $50 per day."
)
LEAVE = "Full-time employees receive 25 days of paid annual leave each year."


def answer_with(reply: str, *, remove_unsupported: bool = False):  # type: ignore[no-untyped-def]
    ctx = context("What is the hotel limit?", POLICY, LEAVE)
    generator = FakeGenerator([reply])
    prompt = PromptBuilder(generator).build(ctx)
    result = generator.generate(prompt.request())
    return finalize_answer(
        prompt.context,
        result.text,
        judge=LexicalEmbeddingJudge(FakeEmbedder()),
        remove_unsupported=remove_unsupported,
        prompt_id=prompt.template_id,
        timings={"retrieve": 0.01},
    )


def test_a_supported_answer_carries_citations_verdicts_and_sources() -> None:
    answer = answer_with("Hotels are reimbursed up to $240 per night in major cities [1][7].")
    assert not answer.abstained
    assert answer.text == "Hotels are reimbursed up to $240 per night in major cities [1]."
    assert [c.number for c in answer.citations] == [1]
    assert answer.citations[0].quote.startswith("Hotel costs are reimbursed up to $240")
    assert [d.marker for d in answer.dropped_markers] == ["[7]"]
    assert answer.support_score == 1.0
    assert [s.number for s in answer.sources] == [1, 2]
    assert answer.prompt_id is not None and answer.prompt_id.startswith("answer_v1@")
    assert set(answer.timings) == {"retrieve", "check"}
    assert answer.flagged == ()


def test_unsupported_sentences_are_flagged_by_default_and_removed_on_request() -> None:
    reply = (
        "Hotels are reimbursed up to $240 per night in major cities [1]. "
        "Employees receive 30 days of paid annual leave [2]."
    )
    flagged = answer_with(reply)
    assert flagged.text == reply
    assert [v.sentence for v in flagged.flagged] == [
        "Employees receive 30 days of paid annual leave [2]."
    ]
    assert flagged.support_score == 0.5
    assert [c.number for c in flagged.citations] == [1, 2]

    removed = answer_with(reply, remove_unsupported=True)
    assert removed.text == "Hotels are reimbursed up to $240 per night in major cities [1]."
    assert [c.number for c in removed.citations] == [1]
    assert len(removed.verdicts) == 2


def test_a_declining_model_gives_the_standard_abstention() -> None:
    answer = answer_with("The provided sources do not mention a hotel limit for Mars.")
    assert answer.abstained
    assert answer.abstain_reason is AbstainReason.MODEL_DECLINED
    assert answer.text == ABSTENTION_ANSWER
    assert answer.citations == ()
    assert answer.model_text == "The provided sources do not mention a hotel limit for Mars."
    assert len(answer.sources) == 2


def test_an_answer_with_nothing_supported_abstains() -> None:
    answer = answer_with("Hotels are reimbursed up to $999 per night [1]. Parking is free.")
    assert answer.abstained
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED
    assert len(answer.verdicts) == 2


def test_the_exact_abstention_sentence_abstains() -> None:
    answer = answer_with(ABSTENTION_ANSWER)
    assert answer.abstain_reason is AbstainReason.MODEL_DECLINED


def test_an_empty_reply_abstains() -> None:
    answer = answer_with("")
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED


def test_the_policy_is_pluggable() -> None:
    ctx = context("q", POLICY)
    answer = finalize_answer(
        ctx,
        "Hotels are reimbursed up to $240 per night in major cities [1]. Parking is free.",
        judge=LexicalEmbeddingJudge(FakeEmbedder()),
        policy=AbstentionPolicy(min_support_score=0.9),
    )
    assert answer.abstain_reason is AbstainReason.UNSUPPORTED
