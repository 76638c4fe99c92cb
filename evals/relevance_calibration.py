"""Calibrating the answer-relevance threshold on the development sets' own answers.

Every supported claim of a run carries its relevance score (``SentenceVerdict.relevance``,
when the run had ``answer.min_relevance`` set). Claims are labelled from the references, not
by a judge:

- *answers*: supported claims, of answerable questions, that state one of the question's
  ``must_contain`` keys: they are what the reader asked for;
- *non-answers*: supported claims made for questions the corpus cannot answer: whatever they
  say, true as it may be, it is not the answer to the question.

Claims of answerable questions that state no key are left out (a partial or a supporting
sentence is neither). For each threshold, a claim scoring at least the threshold is predicted
to be an answer; precision, recall and balanced accuracy follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evals.answer_run import ExampleResult
from evals.reference_checks import states_key
from generation.answer_types import SentenceKind


@dataclass(frozen=True)
class ScoredClaim:
    """A supported claim's relevance score and its reference label."""

    example_id: str
    sentence: str
    score: float
    is_answer: bool


@dataclass(frozen=True)
class ThresholdRow:
    """How one threshold separates answers from non-answers."""

    threshold: float
    precision: float | None
    recall: float | None
    specificity: float | None

    @property
    def balanced_accuracy(self) -> float | None:
        """The mean of recall and specificity."""
        if self.recall is None or self.specificity is None:
            return None
        return (self.recall + self.specificity) / 2


def labelled_claims(results: Iterable[ExampleResult]) -> list[ScoredClaim]:
    """The scored, supported claims of ``results`` that the references can label."""
    claims = []
    for result in results:
        answer, example = result.answer, result.example
        if answer is None:
            continue
        for verdict in answer.verdicts:
            if verdict.kind is not SentenceKind.CLAIM or not verdict.supported:
                continue
            if verdict.relevance is None:
                continue
            if not example.answerable:
                is_answer = False
            elif any(states_key(verdict.sentence, key) for key in example.must_contain):
                is_answer = True
            else:
                continue
            claims.append(ScoredClaim(example.id, verdict.sentence, verdict.relevance, is_answer))
    return claims


def threshold_table(
    claims: Sequence[ScoredClaim], thresholds: Sequence[float]
) -> list[ThresholdRow]:
    """Precision, recall and specificity of ``score >= threshold`` for each threshold."""
    rows = []
    positives = [c for c in claims if c.is_answer]
    negatives = [c for c in claims if not c.is_answer]
    for threshold in thresholds:
        kept = [c for c in claims if c.score >= threshold]
        true_positive = sum(c.is_answer for c in kept)
        rows.append(
            ThresholdRow(
                threshold=threshold,
                precision=true_positive / len(kept) if kept else None,
                recall=true_positive / len(positives) if positives else None,
                specificity=(
                    sum(c.score < threshold for c in negatives) / len(negatives)
                    if negatives
                    else None
                ),
            )
        )
    return rows


def markdown(rows: Sequence[ThresholdRow], claims: Sequence[ScoredClaim]) -> str:
    """The table as Markdown, headed by the claim counts."""
    answers = sum(c.is_answer for c in claims)
    lines = [
        f"{answers} answering claims, {len(claims) - answers} non-answers",
        "",
        "| threshold | precision | recall | specificity | balanced accuracy |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.precision, row.recall, row.specificity, row.balanced_accuracy]
        shown = " | ".join("—" if v is None else f"{v:.3f}" for v in cells)
        lines.append(f"| {row.threshold:.2f} | {shown} |")
    return "\n".join(lines)
