"""Feedback on answers: a thumbs up or down, with an optional comment, from an API caller.

Rows live in the table ``feedback``, in the same database as the document registry, under
their own metadata (like ``api_keys``). ``answer_id`` is not checked against anything: the
caller may send the question and answer text along, which makes each row usable on its own as
an evaluation example (``citewise feedback export``). When the answer is in the answer log
(``store/review_store.py``), ``POST /v1/feedback`` stores the logged question and answer text
instead, and the review queue joins feedback to the log by ``answer_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args
from uuid import uuid4

from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.errors import InvalidInputError
from store.sql_store import SqlStore

Rating = Literal["up", "down"]
RATINGS: tuple[str, ...] = get_args(Rating)
MAX_COMMENT = 2000
"""Characters; longer comments are refused."""


class _Base(DeclarativeBase):
    pass


class _FeedbackRow(_Base):
    __tablename__ = "feedback"

    feedback_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(Text)
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Feedback(BaseModel):
    """One stored piece of feedback (also one row of the JSONL export)."""

    model_config = ConfigDict(frozen=True)

    feedback_id: str
    answer_id: str
    user_id: str
    rating: Rating
    comment: str | None
    question: str | None
    answer_text: str | None
    created_at: datetime


class FeedbackStore(SqlStore):
    """Feedback in a SQL database (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _Base.metadata, "feedback store")

    def add(
        self,
        answer_id: str,
        user_id: str,
        rating: str,
        *,
        comment: str | None = None,
        question: str | None = None,
        answer_text: str | None = None,
    ) -> Feedback:
        """Store feedback by ``user_id`` on answer ``answer_id``, stamped now (UTC).

        Raises InvalidInputError for an empty answer or user id, a rating other than ``up`` or
        ``down``, or a comment over ``MAX_COMMENT`` characters.
        """
        answer_id, user_id = answer_id.strip(), user_id.strip()
        if not answer_id or not user_id:
            raise InvalidInputError("feedback needs a non-empty answer id and user id")
        if rating not in RATINGS:
            raise InvalidInputError(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
        if comment is not None and len(comment) > MAX_COMMENT:
            raise InvalidInputError(f"comment is longer than {MAX_COMMENT} characters")
        row = _FeedbackRow(
            feedback_id=uuid4().hex,
            answer_id=answer_id,
            user_id=user_id,
            rating=rating,
            comment=comment,
            question=question,
            answer_text=answer_text,
            created_at=datetime.now(UTC),
        )
        with self._session() as s:
            s.add(row)
        return _to_feedback(row)

    def list_feedback(self, rating: str | None = None) -> list[Feedback]:
        """All feedback, oldest first; only that with ``rating`` when given."""
        query = select(_FeedbackRow).order_by(_FeedbackRow.created_at, _FeedbackRow.feedback_id)
        if rating is not None:
            query = query.where(_FeedbackRow.rating == rating)
        with self._session() as s:
            return [_to_feedback(row) for row in s.scalars(query)]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored value was written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_feedback(row: _FeedbackRow) -> Feedback:
    return Feedback(
        feedback_id=row.feedback_id,
        answer_id=row.answer_id,
        user_id=row.user_id,
        rating=row.rating,  # validated: only ratings are ever written
        comment=row.comment,
        question=row.question,
        answer_text=row.answer_text,
        created_at=_utc(row.created_at),
    )


FeedbackRow = _FeedbackRow
"""The feedback table's row class, for queries that join feedback (the review queue)."""
to_feedback = _to_feedback
