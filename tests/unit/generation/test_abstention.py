import pytest

from generation.abstention import ABSTENTION_ANSWER, AbstentionPolicy, is_decline
from generation.answer_types import AbstainReason, DroppedMarker, SentenceKind, SentenceVerdict
from tests.unit.generation.fakes import context


@pytest.mark.parametrize(
    "sentence",
    [
        ABSTENTION_ANSWER,
        "I couldn\u2019t find this in the available documents",
        "This is not found in the available documents.",
        "The answer is not mentioned in the provided sources [1].",
        "The information is not in the documents.",
        "The provided sources do not contain information about parking.",
        "The context doesn't say.",
        "I don't know.",
        "I cannot answer this question based on the sources.",
        "I was not able to find that.",
        "There is no information about parking.",
        "No information is available on this topic.",
        "Unfortunately, I am unable to determine the answer.",
        "We do not have enough information to answer.",
    ],
)
def test_declines_and_their_paraphrases_are_recognised(sentence: str) -> None:
    assert is_decline(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Hotels are reimbursed up to $240 per night [1].",
        "Expenses not included in the travel policy are not refunded [2].",
        "Employees who do not know their manager should ask HR [1].",
        "Receipts that are not provided in the expense report are rejected.",
        "The documents must be signed by the manager [3].",
    ],
)
def test_ordinary_claims_are_not_declines(sentence: str) -> None:
    assert not is_decline(sentence)


def verdict(kind: SentenceKind, supported: bool) -> SentenceVerdict:
    return SentenceVerdict(
        sentence="s", span=(0, 1), kind=kind, supported=supported, score=1.0, reason="r"
    )


def test_no_sources_abstains_before_generation() -> None:
    assert AbstentionPolicy().before_generation(context("q"), 0.9) is AbstainReason.NO_SOURCES


def test_weak_retrieval_abstains_before_generation() -> None:
    policy = AbstentionPolicy(min_retrieval_similarity=0.3)
    ctx = context("q", "text")
    assert policy.before_generation(ctx, 0.1) is AbstainReason.WEAK_RETRIEVAL
    assert policy.before_generation(ctx, 0.3) is None
    assert policy.before_generation(ctx, None) is None
    assert AbstentionPolicy(min_retrieval_similarity=None).before_generation(ctx, -1.0) is None


def test_a_declining_model_abstains() -> None:
    verdicts = [verdict(SentenceKind.ABSTENTION, True)]
    assert AbstentionPolicy().after_check(verdicts, 0.0) is AbstainReason.MODEL_DECLINED


def test_a_decline_with_only_unsupported_claims_counts_as_declined() -> None:
    verdicts = [verdict(SentenceKind.ABSTENTION, True), verdict(SentenceKind.CLAIM, False)]
    assert AbstentionPolicy().after_check(verdicts, 0.0) is AbstainReason.MODEL_DECLINED


def test_a_partial_decline_with_supported_claims_answers() -> None:
    verdicts = [verdict(SentenceKind.ABSTENTION, True), verdict(SentenceKind.CLAIM, True)]
    assert AbstentionPolicy().after_check(verdicts, 1.0) is None


def test_nothing_supported_abstains() -> None:
    verdicts = [verdict(SentenceKind.NON_FACTUAL, True), verdict(SentenceKind.CLAIM, False)]
    assert AbstentionPolicy().after_check(verdicts, 0.0) is AbstainReason.UNSUPPORTED
    assert AbstentionPolicy().after_check([], 0.0) is AbstainReason.UNSUPPORTED


def test_a_support_floor_abstains_on_a_mostly_unsupported_answer() -> None:
    verdicts = [verdict(SentenceKind.CLAIM, True), verdict(SentenceKind.CLAIM, False)]
    assert AbstentionPolicy().after_check(verdicts, 0.5) is None
    strict = AbstentionPolicy(min_support_score=0.75)
    assert strict.after_check(verdicts, 0.5) is AbstainReason.UNSUPPORTED


def test_the_abstaining_answer_lists_the_closest_sources() -> None:
    ctx = context("Where do I park?", "a", "b", "c", "d")
    dropped = (DroppedMarker(marker="[9]", numbers=(9,), reason="r"),)
    answer = AbstentionPolicy(closest_sources=2).abstain(
        "Where do I park?",
        AbstainReason.WEAK_RETRIEVAL,
        ctx.sources,
        dropped_markers=dropped,
        timings={"retrieve": 0.1},
        prompt_id="answer_v1@x",
    )
    assert answer.abstained
    assert answer.text == ABSTENTION_ANSWER
    assert answer.abstain_reason is AbstainReason.WEAK_RETRIEVAL
    assert [s.number for s in answer.sources] == [1, 2]
    assert answer.citations == ()
    assert answer.dropped_markers == dropped
    assert answer.timings == {"retrieve": 0.1}
