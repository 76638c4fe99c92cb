from evals.answer_run import ExampleResult
from evals.dataset import EvalExample
from evals.relevance_calibration import labelled_claims, markdown, threshold_table
from generation.answer_types import Answer, SentenceKind, SentenceVerdict


def verdict(sentence: str, relevance: float | None, *, supported: bool = True) -> SentenceVerdict:
    return SentenceVerdict(
        sentence=sentence,
        span=(0, len(sentence)),
        cited=(1,),
        kind=SentenceKind.CLAIM,
        supported=supported,
        score=0.8,
        reason="",
        relevance=relevance,
    )


def result(example: EvalExample, *verdicts: SentenceVerdict) -> ExampleResult:
    answer = Answer(question=example.question, text="...", verdicts=verdicts)
    return ExampleResult(example=example, answer=answer)


LEAVE = EvalExample(id="leave", question="How long is leave?", must_contain=(("18 weeks",),))
GYM = EvalExample(id="gym", question="Is there a gym?", answerable=False)


def test_claims_are_labelled_by_reference_keys_and_answerability() -> None:
    claims = labelled_claims(
        [
            result(
                LEAVE,
                verdict("Leave is 18 weeks [1].", 0.8),
                verdict("Leave starts at birth [1].", 0.7),  # no key: left out
                verdict("Leave is 18 weeks [2].", 0.9, supported=False),  # unsupported: out
            ),
            result(GYM, verdict("Awards are 3% [1].", 0.5), verdict("Unscored [1].", None)),
        ]
    )
    assert [(c.example_id, c.score, c.is_answer) for c in claims] == [
        ("leave", 0.8, True),
        ("gym", 0.5, False),
    ]


def test_thresholds_trade_recall_for_specificity() -> None:
    claims = labelled_claims(
        [result(LEAVE, verdict("18 weeks [1].", 0.8)), result(GYM, verdict("3% [1].", 0.5))]
    )
    low, middle, high = threshold_table(claims, [0.4, 0.6, 0.9])
    assert (low.precision, low.recall, low.specificity) == (0.5, 1.0, 0.0)
    assert (middle.precision, middle.recall, middle.specificity) == (1.0, 1.0, 1.0)
    assert middle.balanced_accuracy == 1.0
    assert (high.precision, high.recall, high.specificity) == (None, 0.0, 1.0)
    assert "1 answering claims, 1 non-answers" in markdown([low, middle, high], claims)
