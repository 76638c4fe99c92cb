import pytest

from generation.answer_types import SentenceKind
from generation.citations import parse_answer
from generation.grounding import (
    Claim,
    LexicalEmbeddingJudge,
    Support,
    check_answer,
    is_non_factual,
)
from tests.unit.generation.fakes import FakeEmbedder, context, source

HOTELS = source(
    1,
    "Travel must be booked through the portal. "
    "Hotel costs are reimbursed up to $240 per night in major cities. "
    "Meals are covered up to $50 per day.",
    title="Travel Policy",
)
LEAVE = source(2, "Full-time employees receive 25 days of paid annual leave each year.")


def judge() -> LexicalEmbeddingJudge:
    return LexicalEmbeddingJudge(FakeEmbedder())


def test_a_paraphrase_is_supported() -> None:
    [support] = judge().judge(
        [
            Claim(
                text="Hotel costs are refunded up to $240 a night in big cities.", sources=(HOTELS,)
            )
        ]
    )
    assert support.supported, support.reason
    assert support.score >= 0.5
    assert support.evidence == "Hotel costs are reimbursed up to $240 per night in major cities."


def test_a_changed_amount_is_not_supported() -> None:
    [support] = judge().judge(
        [
            Claim(
                text="Hotel costs are reimbursed up to $310 per night in major cities.",
                sources=(HOTELS,),
            )
        ]
    )
    assert not support.supported
    assert support.score == 0.0
    assert "310" in support.reason


def test_a_claim_about_something_else_is_not_supported() -> None:
    [support] = judge().judge(
        [Claim(text="Employees may work from home twice a week.", sources=(HOTELS,))]
    )
    assert not support.supported
    assert "weak support" in support.reason


def test_a_claim_naming_something_the_source_never_mentions_is_not_supported() -> None:
    # Same figure, same wording, but about another place: a transplanted fact.
    [support] = judge().judge(
        [
            Claim(
                text="Hotel costs in Berlin are reimbursed up to $240 per night.",
                sources=(HOTELS,),
            )
        ]
    )
    assert not support.supported
    assert support.score == 0.0
    assert "berlin" in support.reason


def test_names_the_source_states_do_not_count_against_a_claim() -> None:
    [support] = judge().judge(
        [Claim(text="The Travel Policy covers meals up to $50 per day.", sources=(HOTELS,))]
    )
    assert support.supported, support.reason


def test_the_citation_must_point_at_the_right_source() -> None:
    claim = "Employees receive 25 days of paid leave per year."
    right, wrong = judge().judge(
        [Claim(text=claim, sources=(LEAVE,)), Claim(text=claim, sources=(HOTELS,))]
    )
    assert right.supported
    assert not wrong.supported


def test_a_pronoun_one_is_not_a_figure_but_a_spelled_out_one_supports_a_1() -> None:
    day = source(1, "Employees get one paid day off for moving house.")
    pronoun, digit = judge().judge(
        [
            Claim(text="Moving house is one of the reasons for a paid day off.", sources=(day,)),
            Claim(text="Employees get 1 paid day off for moving house.", sources=(day,)),
        ]
    )
    assert "not in the cited text" not in pronoun.reason
    assert digit.supported, digit.reason


def test_the_title_counts_as_cited_text() -> None:
    titled = source(1, "Hotels are refunded up to $240 per night.", title="Travel Policy 2025")
    [support] = judge().judge(
        [
            Claim(
                text="Under the 2025 travel policy, hotels are refunded up to $240 per night.",
                sources=(titled,),
            )
        ]
    )
    assert support.supported, support.reason


def test_the_judge_batches_one_embedding_call_per_answer() -> None:
    embedder = FakeEmbedder()
    LexicalEmbeddingJudge(embedder).judge(
        [Claim(text="a fact", sources=(HOTELS,)), Claim(text="another fact", sources=(LEAVE,))]
    )
    assert len(embedder.batches) == 1


def test_thresholds_are_parameters() -> None:
    claim = Claim(text="Employees may work from home twice a week.", sources=(HOTELS,))
    lenient = LexicalEmbeddingJudge(FakeEmbedder(), support_threshold=0.0, min_overlap=0.0)
    assert lenient.judge([claim])[0].supported
    with pytest.raises(ValueError, match="similarity_weight"):
        LexicalEmbeddingJudge(FakeEmbedder(), similarity_weight=2.0)


def test_a_claim_without_sources_is_not_supported() -> None:
    [support] = judge().judge([Claim(text="Something.", sources=())])
    assert not support.supported


@pytest.mark.parametrize(
    "sentence",
    ["Here is what I found:", "Is that what you meant?", "I hope this helps.", "Sure!", "- "],
)
def test_non_factual_sentences(sentence: str) -> None:
    assert is_non_factual(sentence)


@pytest.mark.parametrize("sentence", ["Hotels are refunded.", "The limit is 240:", "Meals: $50."])
def test_factual_sentences(sentence: str) -> None:
    assert not is_non_factual(sentence)


ANSWER = (
    "Here is what the policy says:\n"
    "Hotels are reimbursed up to $240 per night in major cities [1]. "
    "Hotels are reimbursed up to $310 per night in small towns [1]. "
    "Staff also get a free lunch on Fridays. "
    "Employees receive 25 days of paid annual leave [2]."
)


class RecordingJudge:
    def __init__(self) -> None:
        self.claims: list[Claim] = []

    def judge(self, claims: list[Claim]) -> list[Support]:
        self.claims += claims
        return [Support(supported=True, score=1.0, reason="ok") for _ in claims]


def test_check_answer_gives_a_verdict_per_sentence_and_a_support_score() -> None:
    ctx = context("q", HOTELS.text, LEAVE.text)
    parsed = parse_answer(ANSWER, 2)
    report = check_answer(parsed, ctx, judge())
    kinds = [(v.kind, v.supported) for v in report.verdicts]
    assert kinds == [
        (SentenceKind.NON_FACTUAL, True),
        (SentenceKind.CLAIM, True),
        (SentenceKind.CLAIM, False),
        (SentenceKind.CLAIM, False),
        (SentenceKind.CLAIM, True),
    ]
    assert report.verdicts[3].reason == "cites no source"
    assert report.support_score == pytest.approx(0.5)
    assert report.text == parsed.text
    assert len(report.kept) == 5


def test_only_cited_claims_reach_the_judge_with_their_sources() -> None:
    ctx = context("q", HOTELS.text, LEAVE.text)
    recording = RecordingJudge()
    check_answer(parse_answer(ANSWER, 2), ctx, recording)
    assert [c.text for c in recording.claims] == [
        "Hotels are reimbursed up to $240 per night in major cities.",
        "Hotels are reimbursed up to $310 per night in small towns.",
        "Employees receive 25 days of paid annual leave.",
    ]
    assert [s.number for s in recording.claims[2].sources] == [2]


def test_remove_unsupported_cuts_the_flagged_sentences_from_the_text() -> None:
    ctx = context("q", HOTELS.text, LEAVE.text)
    report = check_answer(parse_answer(ANSWER, 2), ctx, judge(), remove_unsupported=True)
    assert report.text == (
        "Here is what the policy says:\n"
        "Hotels are reimbursed up to $240 per night in major cities [1]. "
        "Employees receive 25 days of paid annual leave [2]."
    )
    assert len(report.verdicts) == 5
    assert len(report.kept) == 3


def test_removing_a_whole_list_item_removes_its_line() -> None:
    ctx = context("q", HOTELS.text)
    answer = (
        "Limits:\n- Hotels up to $240 per night [1]\n"
        "- Hotels up to $999 per night [1]\n- Meals up to $50 per day [1]"
    )
    report = check_answer(parse_answer(answer, 1), ctx, judge(), remove_unsupported=True)
    assert (
        report.text == "Limits:\n- Hotels up to $240 per night [1]\n- Meals up to $50 per day [1]"
    )


def test_a_decline_is_an_abstention_sentence_not_a_claim() -> None:
    ctx = context("q", HOTELS.text)
    report = check_answer(parse_answer("The sources do not mention parking.", 1), ctx, judge())
    assert [v.kind for v in report.verdicts] == [SentenceKind.ABSTENTION]
    assert report.support_score == 0.0
