"""Human reviews of served answers, turned into evaluation data.

A reviewer marks a logged answer ``correct`` or ``incorrect`` (``store/review_store.py`` keeps
the log and the reviews). Each reviewed answer becomes:

- an ``EvalExample``: the question as asked, the reference answer (the reviewer's corrected
  text, else the shown text when it was marked correct), the gold documents (the source the
  reviewer named, else the cited sources when correct), ``answerable`` (false only for an
  abstention marked correct) and the asker's principal;
- labelled judge pairs, one per claim the reader was shown: the claim and the evidence the
  grounding check matched it with, labelled ``supported`` when the reviewer marked the answer
  correct and ``unsupported`` when incorrect. These calibrate the support judge against
  human labels. Withheld claims were not shown, so the review says nothing about them; an
  abstention or a quoted passage shows no checked claim.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from core.models import Principal
from evals.dataset import EvalExample, PrincipalSpec
from generation.answer_types import Answer, SentenceKind
from store.review_store import VERDICTS, HumanReview, LoggedAnswer, Verdict

__all__ = [
    "VERDICTS",
    "HumanReview",
    "JudgePair",
    "Verdict",
    "review_example",
    "review_examples",
    "review_judge_pairs",
    "reviewed_judge_pairs",
    "to_jsonl",
]

JudgeLabel = Literal["supported", "unsupported"]


class JudgePair(BaseModel):
    """One claim with its evidence and a human label (a line of the judge-pairs export)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    claim: str
    evidence: str
    label: JudgeLabel
    answer_id: str


def review_example(answer: Answer, principal: Principal, review: HumanReview) -> EvalExample:
    """The evaluation example a reviewed answer makes (its id is the answer's id)."""
    correct = review.verdict == "correct"
    reference = review.corrected_answer
    if reference is None and correct and not answer.abstained:
        reference = answer.text
    if review.source:
        gold: tuple[str, ...] = (unquote(review.source),)
    elif correct:
        gold = tuple(dict.fromkeys(unquote(c.source_uri) for c in answer.citations))
    else:
        gold = ()
    metadata = {
        "origin": "human_review",
        "verdict": review.verdict,
        "reviewer": review.reviewer_id,
        "reviewed_at": review.reviewed_at.isoformat(),
    }
    if review.note:
        metadata["note"] = review.note
    if principal.tenant is not None:
        metadata["tenant"] = principal.tenant
    return EvalExample(
        id=answer.answer_id,
        question=answer.question,
        reference_answer=reference,
        gold_documents=gold,
        answerable=not (answer.abstained and correct),
        principal=PrincipalSpec(user=principal.user_id, groups=principal.groups),
        metadata=metadata,
    )


def review_judge_pairs(answer: Answer, review: HumanReview) -> list[JudgePair]:
    """A labelled pair for each claim the reader was shown that the check had evidence for."""
    if answer.abstained or answer.quoted:
        return []
    withheld = {w.sentence.strip() for w in answer.withheld}
    label: JudgeLabel = "supported" if review.verdict == "correct" else "unsupported"
    return [
        JudgePair(claim=v.sentence, evidence=v.evidence, label=label, answer_id=answer.answer_id)
        for v in answer.verdicts
        if v.kind is SentenceKind.CLAIM and v.evidence and v.sentence.strip() not in withheld
    ]


def review_examples(reviewed: Iterable[LoggedAnswer[Answer]]) -> list[EvalExample]:
    """The reviewed answers (``ReviewStore.reviewed()``) as evaluation examples."""
    return [
        review_example(item.answer, item.principal, item.review)
        for item in reviewed
        if item.review is not None
    ]


def reviewed_judge_pairs(reviewed: Iterable[LoggedAnswer[Answer]]) -> list[JudgePair]:
    """The reviewed answers' shown claims (``ReviewStore.reviewed()``), labelled by the
    reviews."""
    return [
        pair
        for item in reviewed
        if item.review is not None
        for pair in review_judge_pairs(item.answer, item.review)
    ]


def to_jsonl(rows: Iterable[BaseModel]) -> str:
    """The rows as JSON Lines, as ``write_jsonl`` writes examples (UTF-8, unescaped)."""
    return "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n" for r in rows)
