"""``POST /v1/feedback``: a caller rates an answer they were given."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.feedback_store import MAX_COMMENT, FeedbackStore, Rating

router = APIRouter()


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``. Send the question and answer text along to make the feedback
    usable as an evaluation example: answers themselves are not stored."""

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


@router.post("/v1/feedback", tags=["answers"], status_code=201)
def feedback(body: FeedbackRequest, caller: Caller, request: Request) -> FeedbackResponse:
    """Rate an answer up or down, with an optional comment; stored with the caller's user id."""
    store: FeedbackStore = request.app.state.services.feedback
    stored = store.add(
        body.answer_id,
        caller.user_id,
        body.rating,
        comment=body.comment,
        question=body.question,
        answer_text=body.answer_text,
    )
    return FeedbackResponse(feedback_id=stored.feedback_id)
