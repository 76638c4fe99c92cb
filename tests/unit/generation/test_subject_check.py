from generation.grounding import Claim, LexicalEmbeddingJudge
from generation.subject_check import figure_subject_mismatches, subject_coverage
from tests.unit.generation.fakes import FakeEmbedder, source

AWARDS = (
    "Employees who complete a professional certification receive awards of up to 3.85% of "
    "their salary. Signing documents for the award are kept by People Operations."
)
PAY = (
    "Contractor pay for remote work is capped at $500 per month. Internet costs at home "
    "are not covered for contractors."
)
VACATION = "Employees accrue 1.75 days of vacation per month (21 days per year)."


def test_a_figure_about_awards_is_not_a_signing_bonus() -> None:
    [mismatch] = figure_subject_mismatches("The signing bonus is 3.85%.", AWARDS)
    assert mismatch.figure == "3.85%"
    assert mismatch.claim_subject == ("signing", "bonus")
    assert "awards" in mismatch.evidence_subject
    assert mismatch.reason.startswith("figure 3.85% is about '")
    assert mismatch.reason.endswith("not 'signing bonus'")


def test_a_pay_cap_is_not_an_internet_stipend() -> None:
    # "internet" occurs in the passage, but not near $500.
    [mismatch] = figure_subject_mismatches("The monthly internet stipend is $500.", PAY)
    assert mismatch.figure == "$500"
    assert set(mismatch.claim_subject) == {"internet", "stipend"}


def test_a_paraphrase_of_the_same_subject_passes_through_stemming() -> None:
    claim = "Vacation accrues at 1.75 days per month."
    assert figure_subject_mismatches(claim, VACATION) == []
    assert subject_coverage(claim, VACATION) == 1.0
    assert (
        figure_subject_mismatches(
            "Employees accrue 1.75 days of vacation per month.",
            "Vacation accrues at 1.75 days per month.",
        )
        == []
    )


def test_the_best_occurrence_of_a_figure_counts() -> None:
    assert figure_subject_mismatches("You get 21 vacation days a year.", VACATION) == []


def test_a_heading_names_the_subject() -> None:
    text = "- Up to 18 weeks, fully paid."
    assert figure_subject_mismatches("Parental leave lasts 18 weeks.", text)
    assert not figure_subject_mismatches(
        "Parental leave lasts 18 weeks.", text, headings=["Leave policy > Parental leave"]
    )


def test_figures_the_evidence_lacks_or_without_a_subject_are_not_judged() -> None:
    assert figure_subject_mismatches("The signing bonus is 4%.", AWARDS) == []
    assert figure_subject_mismatches("It is 3.85%.", AWARDS) == []
    assert subject_coverage("The signing bonus is 4%.", AWARDS) is None


def test_the_judge_withholds_a_right_figure_about_another_subject() -> None:
    judge = LexicalEmbeddingJudge(FakeEmbedder())
    passage = source(1, PAY, title="Contractor policy")
    [support] = judge.judge(
        [Claim(text="The monthly internet stipend for contractors is $500.", sources=(passage,))]
    )
    assert not support.supported
    assert "figure $500 is about" in support.reason
    assert support.score < 0.5
    [flag_off] = LexicalEmbeddingJudge(FakeEmbedder(), check_subject=False).judge(
        [Claim(text="The monthly internet stipend for contractors is $500.", sources=(passage,))]
    )
    assert "figure" not in flag_off.reason


def test_the_judge_keeps_a_right_figure_about_its_subject() -> None:
    judge = LexicalEmbeddingJudge(FakeEmbedder())
    passage = source(1, VACATION, title="Leave policy")
    [support] = judge.judge(
        [Claim(text="Vacation accrues at 1.75 days per month.", sources=(passage,))]
    )
    assert support.supported, support.reason


def test_one_missing_word_is_enough_unless_more_are_required() -> None:
    evidence = "Clinics get an extra 10% off for the first three months."
    claim = "An additional 10% is off for three months."
    [mismatch] = figure_subject_mismatches(claim, evidence)
    assert mismatch.claim_subject == ("additional",)
    assert figure_subject_mismatches(claim, evidence, min_missing=2) == []


def test_the_judge_checks_subjects_only_below_its_similarity_gate() -> None:
    passage = source(1, "Clinics get an extra 10% off for the first three months.")
    claim = Claim(text="An additional 10% is off for three months.", sources=(passage,))
    [gated] = LexicalEmbeddingJudge(FakeEmbedder(), subject_max_similarity=0.0).judge([claim])
    assert "figure" not in gated.reason
    [checked] = LexicalEmbeddingJudge(FakeEmbedder(), subject_max_similarity=1.01).judge([claim])
    assert not checked.supported
    assert "figure 10% is about" in checked.reason


def test_a_wrapped_line_is_not_a_boundary_but_a_list_item_is() -> None:
    wrapped = "Employees who drive their own car are reimbursed $0.67\nper mile driven."
    assert figure_subject_mismatches("Mileage driven is paid at $0.67 per mile.", wrapped) == []
    listed = "Mileage driven on company business\n- $0.67 for parking fees"
    assert figure_subject_mismatches("Mileage driven is paid at $0.67.", listed)


def test_a_question_echoed_in_the_answer_is_not_its_subject() -> None:
    evidence = "In London, hotels are reimbursed up to $310 per night."
    claim = "The most I can spend on a hotel when I'm in London is $310 per night."
    assert figure_subject_mismatches(claim, evidence) == []
