"""``POST /v1/feedback``: a caller rates an answer they were given.

Only an answer this server logged for this caller may be rated: any other ``answer_id``
(made up, or another user's) is 404, so feedback cannot be planted on answers nobody was
given, nor reveal whose answer an id is. A server without the answer log refuses feedback
(503) rather than accept it unchecked.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import AnswerLogDep, Caller, FeedbackDep
from api.http.metrics import MetricsDep
from core.errors import NotFoundError
from store.feedback_store import MAX_COMMENT, Rating

router = APIRouter()


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``. The question and answer text stored with the feedback are the
    logged ones; ``question`` and ``answer_text`` are accepted for older clients and
    ignored."""

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


@router.post(
    "/v1/feedback",
    tags=["answers"],
    status_code=201,
    responses={
        404: {"description": "No answer with this id was given to the caller."},
        503: {"description": "This server keeps no answer log."},
    },
)
def feedback(
    body: FeedbackRequest,
    caller: Caller,
    store: FeedbackDep,
    log: AnswerLogDep,
    metrics: MetricsDep,
) -> FeedbackResponse:
    """Rate an answer you were given up or down, with an optional comment; stored with your
    user id, the logged question and the answer text you were shown."""
    if log is None:
        raise HTTPException(
            503, "feedback is not taken: this server does not keep the answer log it checks"
        )
    answer_id = body.answer_id.strip()
    logged = log.find(answer_id)
    if logged is None or (logged.principal.user_id, logged.principal.tenant) != (
        caller.user_id,
        caller.tenant,
    ):
        raise NotFoundError(f"no answer {answer_id!r} was given to you")
    stored = store.add(
        answer_id,
        caller.user_id,
        body.rating,
        comment=body.comment,
        question=logged.question,  # what was asked and shown, not what the client says
        answer_text=logged.answer.text,
    )
    metrics.observe_feedback(body.rating)
    return FeedbackResponse(feedback_id=stored.feedback_id, answer_logged=True)
