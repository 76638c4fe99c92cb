"""Judge metrics, threshold choice, pair-to-claim conversion and the calibration report."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest

from evals.calibration import (
    PairOutcome,
    best_threshold,
    claim_texts,
    judge_metrics,
    pair_claims,
    report,
    report_json,
    report_markdown,
    run_judge,
)
from evals.judge_data import HALUEVAL, SUMMEDITS, LabelledPair
from evals.judge_training import training_units
from generation.grounding import Claim, Support


def pair(
    claim: str,
    label: bool,
    *,
    dataset: str = SUMMEDITS,
    domain: str = "news",
    reference: str = "",
    pair_id: str = "p",
) -> LabelledPair:
    return LabelledPair(
        pair_id=pair_id,
        dataset=dataset,
        domain=domain,
        group=f"{domain}/g",
        evidence="Alice joined in 2019. She leads the sales team.",
        claim=claim,
        label=label,
        reference=reference,
    )


def test_metrics_match_a_hand_computed_confusion_matrix() -> None:
    # Positive class = unsupported. Truth: 4 unsupported, 2 supported.
    labels = [False, False, False, False, True, True]
    predicted = [False, False, False, True, True, False]
    m = judge_metrics(labels, predicted, [0.1, 0.2, 0.3, 0.9, 0.8, 0.4])
    # Unsupported caught 3/4 (recall), flagged 4 of which 3 right (precision 0.75).
    assert m.recall == pytest.approx(0.75)
    assert m.precision == pytest.approx(0.75)
    assert m.f1 == pytest.approx(0.75)
    # Balanced accuracy: mean of recall on unsupported (3/4) and on supported (1/2).
    assert m.balanced_accuracy == pytest.approx(0.625)
    assert (m.n, m.supported) == (6, 2)
    assert m.auc is not None and 0 <= m.auc <= 1


def test_a_constant_judge_scores_one_half_and_no_auc() -> None:
    m = judge_metrics([True, False, True, False], [True] * 4, [1.0, 1.0, 1.0, 1.0])
    assert m.balanced_accuracy == 0.5
    assert m.recall == 0.0 and m.precision == 0.0 and m.f1 == 0.0
    assert m.auc is None


def test_metrics_with_one_class_only_have_no_balanced_accuracy() -> None:
    m = judge_metrics([True, True], [True, False])
    assert math.isnan(m.balanced_accuracy)
    with pytest.raises(ValueError, match="non-empty"):
        judge_metrics([], [])


def outcome(label: bool, score: float, dataset: str = SUMMEDITS) -> PairOutcome:
    return PairOutcome("p", dataset, "news", label, score >= 0.5, score)


def test_best_threshold_separates_validation_scores() -> None:
    first = [outcome(True, 0.9), outcome(True, 0.7), outcome(False, 0.3), outcome(False, 0.2)]
    second = [outcome(True, 0.6, HALUEVAL), outcome(False, 0.1, HALUEVAL)]
    threshold, value = best_threshold([first, second])
    assert 0.3 < threshold <= 0.6
    assert value == pytest.approx(1.0)


def test_summaries_are_judged_sentence_by_sentence_against_the_document() -> None:
    summary = pair("Alice joined in 2019. She leads sales.", True)
    assert claim_texts(summary) == ["Alice joined in 2019.", "She leads sales."]
    claims = pair_claims(summary)
    assert [c.sources[0].text for c in claims] == [summary.evidence] * 2
    qa = pair("When did Alice join? In 2019.", True, dataset=HALUEVAL, domain="qa")
    assert claim_texts(qa) == ["When did Alice join? In 2019."]


class ScriptedJudge:
    """Supports a claim when it does not mention 2020; records each call's size."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def judge(self, claims: Sequence[Claim]) -> list[Support]:
        self.calls.append(len(claims))
        return [
            Support(
                supported="2020" not in c.text, score=0.2 if "2020" in c.text else 0.9, reason=""
            )
            for c in claims
        ]


def test_a_pair_is_supported_only_when_all_its_claims_are() -> None:
    pairs = [
        pair("Alice joined in 2019. She leads sales.", True, pair_id="a"),
        pair("Alice joined in 2020. She leads sales.", False, pair_id="b"),
        pair("Who leads sales? Alice.", True, dataset=HALUEVAL, domain="qa", pair_id="c"),
    ]
    judge = ScriptedJudge()
    counted: list[int] = []
    found = run_judge(judge, pairs, pairs_per_call=2, progress=counted.append)
    assert [(o.pair_id, o.supported, o.score) for o in found] == [
        ("a", True, 0.9),
        ("b", False, 0.2),
        ("c", True, 0.9),
    ]
    assert judge.calls == [4, 1]  # two summaries' four sentences in one call, then one claim
    assert counted == [2, 1]


def test_the_report_has_a_row_per_domain_and_one_over_all() -> None:
    rows = [
        PairOutcome("1", SUMMEDITS, "news", True, True, 0.9),
        PairOutcome("2", SUMMEDITS, "news", False, False, 0.1),
        PairOutcome("3", SUMMEDITS, "podcast", True, False, 0.4),
        PairOutcome("4", SUMMEDITS, "podcast", False, False, 0.2),
        PairOutcome("5", HALUEVAL, "qa", True, True, 0.8),
        PairOutcome("6", HALUEVAL, "qa", False, True, 0.7),
    ]
    result = report({"lexical": rows})
    assert set(result["lexical"][SUMMEDITS]) == {"news", "podcast", "all"}
    assert set(result["lexical"][HALUEVAL]) == {"qa"}  # one domain: no "all" row
    assert result["lexical"][SUMMEDITS]["all"].balanced_accuracy == pytest.approx(0.75)
    table = report_markdown(result)
    assert "| lexical | summedits | **all** | 4 | 2 | 0.750 |" in table
    data = json.loads(report_json(result, pairs={"lexical": {SUMMEDITS: 4}}))
    assert data["judges"]["lexical"][HALUEVAL]["qa"]["balanced_accuracy"] == 0.5
    assert data["pairs"] == {"lexical": {SUMMEDITS: 4}}


def test_training_labels_sentences_only_where_they_are_certain() -> None:
    seed = "Alice joined in 2019. She leads the sales team."
    consistent = pair("Alice started in 2019. She leads the sales team.", True, reference=seed)
    assert training_units(consistent) == [
        ("Alice started in 2019.", True),
        ("She leads the sales team.", True),
    ]
    one_edit = pair("Alice joined in 2020. She leads the sales team.", False, reference=seed)
    assert training_units(one_edit) == [
        ("She leads the sales team.", True),
        ("Alice joined in 2020.", False),
    ]
    # Two edited sentences: which one is wrong is unknown, so the summary is the example.
    two_edits = pair("Alice joined in 2020. She leads the HR team.", False, reference=seed)
    assert training_units(two_edits) == [(two_edits.claim, False)]
    qa = pair("Who? Alice.", False, dataset=HALUEVAL, domain="qa")
    assert training_units(qa) == [("Who? Alice.", False)]
