"""Answer metrics on constructed answers whose right grades are known by hand."""

from __future__ import annotations

import pytest

from evals.answer_metrics import grade_grounding, normalize, token_f1
from tests.unit.evals.answer_fixtures import PARENTAL, VACATION, OracleJudge, answer, claim


def test_a_perfectly_cited_answer_scores_one_everywhere() -> None:
    graded = grade_grounding(
        answer(claim(VACATION + " [1]", (1,)), claim(PARENTAL + " [2]", (2,))),
        OracleJudge(),
        "oracle",
    )
    assert not graded.hallucinated
    assert (graded.faithfulness, graded.citation_recall, graded.citation_precision) == (1, 1, 1)
    assert graded.sentences[0].sentence == VACATION  # markers stripped before judging


def test_a_known_unsupported_claim_is_a_hallucination() -> None:
    invented = "Employees accrue 3 days of paid vacation per month."
    graded = grade_grounding(
        answer(claim(VACATION + " [1]", (1,)), claim(invented + " [1]", (1,))),
        OracleJudge(),
        "oracle",
    )
    assert graded.hallucinated
    assert graded.faithfulness == 0.5
    assert graded.citation_recall == 0.5
    assert graded.citation_precision == 0.5  # the unsupported sentence's citation is imprecise
    assert [s.supported for s in graded.sentences] == [True, False]


def test_an_irrelevant_extra_citation_costs_precision_not_recall() -> None:
    # [1] supports the sentence alone, [2] does not and is not needed: ALCE calls it irrelevant.
    judge = OracleJudge()
    graded = grade_grounding(answer(claim(VACATION + " [1][2]", (1, 2))), judge, "oracle")
    assert (graded.citation_recall, graded.citation_precision) == (1.0, 0.5)
    # one joint call, then each citation alone and the others without it
    assert [tuple(s.number for s in c.sources) for c in judge.calls] == [
        (1, 2),
        (1,),
        (2,),
        (2,),
        (1,),
    ]


def test_an_uncited_claim_has_no_recall_and_is_judged_against_all_sources() -> None:
    graded = grade_grounding(answer(claim(PARENTAL, ())), OracleJudge(), "oracle")
    assert not graded.hallucinated  # source 2 holds it
    assert graded.citation_recall == 0.0
    assert graded.citation_precision is None  # no citations to be precise about


def test_an_abstention_is_never_a_hallucination() -> None:
    graded = grade_grounding(answer(abstained=True), OracleJudge(), "oracle")
    assert not graded.hallucinated
    assert graded.faithfulness is None and graded.citation_recall is None


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("The 18 weeks [1].", "18 weeks", 1.0),
        ("18 weeks of leave", "18 weeks", 2 * (2 / 4 * 1.0) / (2 / 4 + 1.0)),
        ("no overlap", "18 weeks", 0.0),
        ("", "", 1.0),
    ],
)
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_normalize_follows_squad() -> None:
    assert normalize("The  Quick, brown fox! [2]") == "quick brown fox"
