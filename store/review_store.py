"""The answer log and the human review queue.

Every answer the API serves is logged (table ``answer_log``): its id, who asked (user id,
groups, tenant), when, the question as sent and the ``Answer`` as JSON. The review queue is a
query over the log and the feedback (``store/feedback_store.py``): an answer is queued when

- statements were withheld from it (``withheld``), or
- someone rated it thumbs-down (``thumbs_down``), and in particular when it abstained and the
  asker rated it down, saying it should have been answerable (``abstained_disputed``).

A reviewer's verdict (``correct`` / ``incorrect``, note, the right source, a corrected answer)
is one row of ``answer_reviews``, keyed by the answer; marking again replaces it. Reviewed
answers export as evaluation data (``evals/review_export.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    exists,
    or_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.errors import CitewiseError, InvalidInputError, NotFoundError
from core.models import Principal
from store.feedback_store import Feedback, FeedbackRow, to_feedback
from store.sql_store import SqlStore

_log = logging.getLogger(__name__)

QueueStatus = Literal["pending", "reviewed"]
MAX_NOTE = 2000
MAX_SOURCE = 2000
MAX_CORRECTED = 20000
"""Characters of a review's note, source and corrected answer."""

Verdict = Literal["correct", "incorrect"]
VERDICTS: tuple[str, ...] = get_args(Verdict)


class LoggableAnswer(Protocol):
    """What the log needs of an answer: its id, outcome and JSON form."""

    @property
    def answer_id(self) -> str:
        """The answer's id (the log's key)."""
        ...

    @property
    def abstained(self) -> bool:
        """Whether the answer abstained."""
        ...

    @property
    def withheld(self) -> Sequence[object]:
        """The statements withheld from the reader."""
        ...

    def model_dump_json(self) -> str:
        """The answer as JSON (what is stored)."""
        ...


AnswerT = TypeVar("AnswerT", bound=LoggableAnswer)


class HumanReview(BaseModel):
    """A reviewer's finding on one answer. ``source`` is the document that holds the right
    answer (a source URI), ``corrected_answer`` the answer as it should have read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    reviewer_id: str
    reviewed_at: datetime
    note: str | None = None
    source: str | None = None
    corrected_answer: str | None = None


class _Base(DeclarativeBase):
    pass


class _LoggedRow(_Base):
    __tablename__ = "answer_log"

    answer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(Text)
    groups: Mapped[str] = mapped_column(Text)  # a JSON list, as text (like api_keys)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)  # Answer.model_dump_json()
    abstained: Mapped[bool] = mapped_column(Boolean)
    withheld_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class _ReviewRow(_Base):
    __tablename__ = "answer_reviews"

    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("answer_log.answer_id", ondelete="CASCADE"), primary_key=True
    )
    verdict: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrected_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer_id: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class LoggedAnswer(Generic[AnswerT]):
    """One served answer as logged, with its feedback and review (if any)."""

    answer_id: str
    principal: Principal
    asked_at: datetime
    question: str
    """The question as the caller sent it (``answer.question`` is the standalone one)."""
    answer: AnswerT
    feedback: tuple[Feedback, ...] = ()
    review: HumanReview | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the answer is in the review queue (empty: it is not)."""
        reasons = []
        if self.answer.withheld:
            reasons.append("withheld")
        downs = [f for f in self.feedback if f.rating == "down"]
        if self.answer.abstained and any(f.user_id == self.principal.user_id for f in downs):
            reasons.append("abstained_disputed")
        if downs:
            reasons.append("thumbs_down")
        return tuple(reasons)


class ReviewStore(SqlStore, Generic[AnswerT]):
    """The answer log, the review queue over it and the reviews (SQLite or PostgreSQL).

    ``parse`` reads a logged answer back from its JSON (``Answer.model_validate_json``)."""

    def __init__(self, url: str, parse: Callable[[str], AnswerT]) -> None:
        super().__init__(url, _Base.metadata, "answer log")
        self._parse = parse

    def record(self, answer: AnswerT, principal: Principal, question: str) -> None:
        """Log a served answer, stamped now (UTC); the same answer twice is logged once."""
        row = _LoggedRow(
            answer_id=answer.answer_id,
            user_id=principal.user_id,
            groups=json.dumps(list(principal.groups)),
            tenant=principal.tenant,
            question=question,
            answer=answer.model_dump_json(),
            abstained=answer.abstained,
            withheld_count=len(answer.withheld),
            created_at=datetime.now(UTC),
        )
        with self._session() as s:
            if s.get(_LoggedRow, answer.answer_id) is None:
                s.add(row)

    def record_safely(self, answer: AnswerT, principal: Principal, question: str) -> bool:
        """``record``, but a database error is logged instead of raised (an answer must reach
        its reader even when the log cannot be written); False when it was not logged."""
        try:
            self.record(answer, principal, question)
        except CitewiseError as e:
            _log.error(
                "answer not logged", extra={"answer_id": answer.answer_id, "error": e.message}
            )
            return False
        return True

    def get(self, answer_id: str) -> LoggedAnswer[AnswerT]:
        """One logged answer with its feedback and review; NotFoundError if it was not logged."""
        with self._session() as s:
            row = s.get(_LoggedRow, answer_id)
            if row is None:
                raise NotFoundError(f"no logged answer {answer_id}")
            return self._load(s, [row])[0]

    def find(self, answer_id: str) -> LoggedAnswer[AnswerT] | None:
        """``get``, or None when the answer was not logged."""
        try:
            return self.get(answer_id)
        except NotFoundError:
            return None

    def queue(
        self, status: QueueStatus = "pending", *, limit: int = 100
    ) -> list[LoggedAnswer[AnswerT]]:
        """Newest first: the queued answers not reviewed yet (``pending``), or every reviewed
        answer (``reviewed``)."""
        reviewed = exists().where(_ReviewRow.answer_id == _LoggedRow.answer_id)
        query = select(_LoggedRow).order_by(
            _LoggedRow.created_at.desc(), _LoggedRow.answer_id.desc()
        )
        if status == "reviewed":
            query = query.where(reviewed)
        else:
            thumbs_down = exists().where(
                FeedbackRow.answer_id == _LoggedRow.answer_id, FeedbackRow.rating == "down"
            )
            query = query.where(~reviewed, or_(_LoggedRow.withheld_count > 0, thumbs_down))
        with self._session() as s:
            return self._load(s, list(s.scalars(query.limit(limit))))

    def mark(
        self,
        answer_id: str,
        verdict: str,
        reviewer_id: str,
        *,
        note: str | None = None,
        source: str | None = None,
        corrected_answer: str | None = None,
    ) -> LoggedAnswer[AnswerT]:
        """Store a reviewer's verdict on a logged answer (replacing an earlier one), stamped
        now (UTC). NotFoundError if the answer was not logged; InvalidInputError for a verdict
        other than ``correct`` / ``incorrect``, an empty reviewer or an over-long field."""
        reviewer_id = reviewer_id.strip()
        if verdict not in VERDICTS:
            raise InvalidInputError(
                f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}"
            )
        if not reviewer_id:
            raise InvalidInputError("a review needs a reviewer id")
        note, source, corrected_answer = (
            _blank_to_none(v) for v in (note, source, corrected_answer)
        )
        for name, value, limit in (
            ("note", note, MAX_NOTE),
            ("source", source, MAX_SOURCE),
            ("corrected answer", corrected_answer, MAX_CORRECTED),
        ):
            if value is not None and len(value) > limit:
                raise InvalidInputError(f"the {name} is longer than {limit} characters")
        with self._session() as s:
            if s.get(_LoggedRow, answer_id) is None:
                raise NotFoundError(f"no logged answer {answer_id}")
            s.merge(
                _ReviewRow(
                    answer_id=answer_id,
                    verdict=verdict,
                    note=note,
                    source=source,
                    corrected_answer=corrected_answer,
                    reviewer_id=reviewer_id,
                    reviewed_at=datetime.now(UTC),
                )
            )
        return self.get(answer_id)

    def reviewed(self) -> list[LoggedAnswer[AnswerT]]:
        """Every reviewed answer, oldest review first (the order exports are written in)."""
        query = (
            select(_LoggedRow)
            .join(_ReviewRow, _ReviewRow.answer_id == _LoggedRow.answer_id)
            .order_by(_ReviewRow.reviewed_at, _LoggedRow.answer_id)
        )
        with self._session() as s:
            return self._load(s, list(s.scalars(query)))

    def _load(self, s: Session, rows: list[_LoggedRow]) -> list[LoggedAnswer[AnswerT]]:
        ids = [row.answer_id for row in rows]
        if not ids:
            return []
        feedback: dict[str, list[Feedback]] = {}
        query = (
            select(FeedbackRow)
            .where(FeedbackRow.answer_id.in_(ids))
            .order_by(FeedbackRow.created_at, FeedbackRow.feedback_id)
        )
        for fb in s.scalars(query):
            feedback.setdefault(fb.answer_id, []).append(to_feedback(fb))
        reviews = {
            r.answer_id: r
            for r in s.scalars(select(_ReviewRow).where(_ReviewRow.answer_id.in_(ids)))
        }
        return [
            LoggedAnswer(
                answer_id=row.answer_id,
                principal=Principal(
                    user_id=row.user_id, groups=tuple(json.loads(row.groups)), tenant=row.tenant
                ),
                asked_at=_utc(row.created_at),
                question=row.question,
                answer=self._parse(row.answer),
                feedback=tuple(feedback.get(row.answer_id, ())),
                review=_to_review(reviews.get(row.answer_id)),
            )
            for row in rows
        ]


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored value was written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_review(row: _ReviewRow | None) -> HumanReview | None:
    if row is None:
        return None
    return HumanReview(
        verdict=row.verdict,  # validated: only verdicts are written
        reviewer_id=row.reviewer_id,
        reviewed_at=_utc(row.reviewed_at),
        note=row.note,
        source=row.source,
        corrected_answer=row.corrected_answer,
    )
