"""``POST /v1/feedback``: a caller rates an answer they were given."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import AnswerLogDep, Caller, FeedbackDep
from api.http.metrics import MetricsDep
from store.feedback_store import MAX_COMMENT, Rating

router = APIRouter()


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``. Send the question and answer text along to make the feedback
    usable as an evaluation example; for an answer the server logged, the logged question and
    answer text are stored instead."""

    model_config = ConfigDict(extra="forbid")

    answer_id: str = Field(
        min_length=1, max_length=64, description="The `answer_id` of the rated answer."
    )
    rating: Rating
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    question: str | None = Field(default=None, max_length=2000)
    answer_text: str | None = Field(default=None, max_length=20000)


class FeedbackResponse(BaseModel):
    """``POST /v1/feedback`` result."""

    feedback_id: str
    answer_logged: bool = Field(
        description="The rated answer is in the answer log: the feedback is linked to it (and "
        "a thumbs-down puts it in the review queue)."
    )


@router.post("/v1/feedback", tags=["answers"], status_code=201)
def feedback(
    body: FeedbackRequest,
    caller: Caller,
    store: FeedbackDep,
    log: AnswerLogDep,
    metrics: MetricsDep,
) -> FeedbackResponse:
    """Rate an answer up or down, with an optional comment; stored with the caller's user id."""
    logged = log.find(body.answer_id.strip()) if log is not None else None
    question, answer_text = body.question, body.answer_text
    if logged is not None:  # what was asked and shown, rather than what the client says
        question, answer_text = logged.question, logged.answer.text
    stored = store.add(
        body.answer_id,
        caller.user_id,
        body.rating,
        comment=body.comment,
        question=question,
        answer_text=answer_text,
    )
    metrics.observe_feedback(body.rating)
    return FeedbackResponse(feedback_id=stored.feedback_id, answer_logged=logged is not None)
