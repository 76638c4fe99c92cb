"""The human review queue (admins only), and the logging of every served answer into it.

``GET /v1/reviews`` lists queued answers (withheld statements, thumbs-down feedback, disputed
abstentions) or reviewed ones; ``POST /v1/reviews/{answer_id}`` records a verdict;
``GET /v1/reviews/export`` writes the reviewed answers as evaluation examples or labelled
judge pairs (JSON Lines). Every route answers 403 to a caller outside ``api.admin_group``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import AnswerLogDep, DocumentsDep
from api.http.document_routes import Admin
from core.models import Principal
from evals.review_export import (
    HumanReview,
    Verdict,
    review_examples,
    reviewed_judge_pairs,
    to_jsonl,
)
from generation.answer import AnswerEvent, FinalEvent
from generation.answer_types import AbstainReason, Answer
from store.feedback_store import Feedback
from store.review_store import (
    MAX_CORRECTED,
    MAX_NOTE,
    MAX_SOURCE,
    LoggedAnswer,
    QueueStatus,
    ReviewStore,
)

router = APIRouter(
    tags=["reviews"], responses={403: {"description": "The caller is not an admin."}}
)

NDJSON = "application/x-ndjson"


def record_answer(
    log: ReviewStore[Answer] | None, caller: Principal, question: str, answer: Answer
) -> None:
    """Log a served answer for review (when ``log`` is wired); never fails the answer (a
    database error is logged)."""
    if log is not None:
        log.record_safely(answer, caller, question)


def record_events(
    events: Iterator[AnswerEvent],
    log: ReviewStore[Answer] | None,
    caller: Principal,
    question: str,
) -> Iterator[AnswerEvent]:
    """The events, passed on; the final answer is logged (as ``record_answer``) on its way."""
    for event in events:
        if isinstance(event, FinalEvent):
            record_answer(log, caller, question, event.answer)
        yield event


class FeedbackNote(BaseModel):
    """One rating of a queued answer."""

    user_id: str
    rating: str
    comment: str | None
    created_at: datetime


class ReviewSummary(BaseModel):
    """A queued or reviewed answer, as the list shows it."""

    answer_id: str
    asked_at: datetime
    user_id: str
    question: str
    text: str = Field(description="The answer text the reader was shown.")
    withheld: int = Field(description="How many statements were withheld from the reader.")
    abstained: bool
    abstain_reason: AbstainReason | None
    reasons: list[str] = Field(
        description="Why it is queued: `withheld`, `thumbs_down`, `abstained_disputed`."
    )
    feedback: list[FeedbackNote]
    review: HumanReview | None


class ReviewList(BaseModel):
    """``GET /v1/reviews`` result, newest first."""

    reviews: list[ReviewSummary]


class ReviewDetail(BaseModel):
    """``GET /v1/reviews/{answer_id}``: everything logged about one answer."""

    answer_id: str
    asked_at: datetime
    principal: Principal
    question: str
    reasons: list[str]
    answer: Answer
    feedback: list[FeedbackNote]
    review: HumanReview | None


class ReviewRequest(BaseModel):
    """``POST /v1/reviews/{answer_id}``: the reviewer's verdict on the shown answer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    source: str | None = Field(
        default=None,
        max_length=MAX_SOURCE,
        description="The document holding the right answer: a source URI, or a `doc_id`.",
    )
    corrected_answer: str | None = Field(
        default=None, max_length=MAX_CORRECTED, description="The answer as it should read."
    )


def _required_log(log: AnswerLogDep) -> ReviewStore[Answer]:
    if log is None:  # pragma: no cover - the composition root always wires it
        raise RuntimeError("the answer log is not configured")
    return log


ReviewLog = Annotated[ReviewStore[Answer], Depends(_required_log)]


def _notes(feedback: tuple[Feedback, ...]) -> list[FeedbackNote]:
    return [
        FeedbackNote(user_id=f.user_id, rating=f.rating, comment=f.comment, created_at=f.created_at)
        for f in feedback
    ]


def _summary(item: LoggedAnswer[Answer]) -> ReviewSummary:
    return ReviewSummary(
        answer_id=item.answer_id,
        asked_at=item.asked_at,
        user_id=item.principal.user_id,
        question=item.question,
        text=item.answer.text,
        withheld=len(item.answer.withheld),
        abstained=item.answer.abstained,
        abstain_reason=item.answer.abstain_reason,
        reasons=list(item.reasons),
        feedback=_notes(item.feedback),
        review=item.review,
    )


def _detail(item: LoggedAnswer[Answer]) -> ReviewDetail:
    return ReviewDetail(
        answer_id=item.answer_id,
        asked_at=item.asked_at,
        principal=item.principal,
        question=item.question,
        reasons=list(item.reasons),
        answer=item.answer,
        feedback=_notes(item.feedback),
        review=item.review,
    )


@router.get("/v1/reviews")
def list_reviews(
    log: ReviewLog,
    caller: Admin,
    status: QueueStatus = "pending",
    limit: int = Query(default=100, ge=1, le=1000),
) -> ReviewList:
    """The review queue (``pending``) or the reviewed answers (``reviewed``), newest first."""
    return ReviewList(reviews=[_summary(i) for i in log.queue(status, limit=limit)])


@router.get(
    "/v1/reviews/export",
    responses={200: {"content": {NDJSON: {}}, "description": "One JSON object a line."}},
)
def export_reviews(
    log: ReviewLog, caller: Admin, format: Literal["examples", "judge-pairs"] = "examples"
) -> Response:
    """Reviewed answers as evaluation examples (``EvalExample``) or as labelled judge pairs
    (``{"claim", "evidence", "label", "answer_id"}``), JSON Lines."""
    reviewed = log.reviewed()
    rows = review_examples(reviewed) if format == "examples" else reviewed_judge_pairs(reviewed)
    return Response(to_jsonl(rows), media_type=NDJSON)


@router.get("/v1/reviews/{answer_id}", responses={404: {"description": "Not logged."}})
def get_review(answer_id: str, log: ReviewLog, caller: Admin) -> ReviewDetail:
    """One logged answer: who asked, the full answer, its feedback and its review."""
    return _detail(log.get(answer_id))


@router.post("/v1/reviews/{answer_id}", responses={404: {"description": "Not logged."}})
def review_answer(
    answer_id: str,
    body: ReviewRequest,
    log: ReviewLog,
    documents: DocumentsDep,
    caller: Admin,
) -> ReviewDetail:
    """Mark a logged answer correct or incorrect (replacing an earlier review). A ``source``
    without ``://`` is a document id and is stored as that document's source URI."""
    source = body.source
    if source is not None and source.strip() and "://" not in source:
        source = documents.get(source.strip(), caller, admin=True).source_uri
    item = log.mark(
        answer_id,
        body.verdict,
        caller.user_id,
        note=body.note,
        source=source,
        corrected_answer=body.corrected_answer,
    )
    return _detail(item)
