"""The audit log: an append-only record of who asked what, who was shown which document, and
every admin action.

Rows live in the table ``audit_log`` (migration 0005), in the registry's database. The store
has no update and no per-row delete: the only way rows leave is ``purge``, which drops rows
older than the retention period (``audit.retention_days``), run by ``citewise audit purge`` and
periodically by ``citewise serve``. No API route writes to it except by recording what a caller
did (see ``api/http/audit_routes.py``).

A question is kept as its SHA-256; its text only when ``store_questions`` is on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import DateTime, Index, String, Text, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.models import Principal
from store.sql_store import SqlStore


class AuditAction(StrEnum):
    """What an audit row records."""

    ASK = "ask"
    """A question answered through ``POST /v1/ask`` (JSON or its SSE stream)."""
    CHAT = "chat_completion"
    """A question answered through ``POST /v1/chat/completions``."""
    SEARCH = "search"
    """A search: the hits shown are document accesses."""
    SOURCE_OPEN = "source_open"
    """A cited passage opened with its neighbours (``GET /v1/chunks/{id}``)."""
    FILE_OPEN = "document_file"
    """A document's original file served (``GET /v1/documents/{id}/file``)."""
    UPLOAD = "document_upload"
    DELETE = "document_delete"
    ACL_CHANGE = "document_acl_change"
    KEY_CREATE = "key_create"
    KEY_REVOKE = "key_revoke"


ADMIN_ACTIONS = frozenset(
    {
        AuditAction.UPLOAD,
        AuditAction.DELETE,
        AuditAction.ACL_CHANGE,
        AuditAction.KEY_CREATE,
        AuditAction.KEY_REVOKE,
    }
)


class _Base(DeclarativeBase):
    pass


class _AuditRow(_Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_user_id_at", "user_id", "at"),)

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(Text)
    groups: Mapped[str] = mapped_column(Text)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    question_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    question: Mapped[str | None] = mapped_column(Text, nullable=True)
    doc_ids: Mapped[str] = mapped_column(Text)
    chunk_ids: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str] = mapped_column(Text)


class AuditEvent(BaseModel):
    """One audit row (also one line of ``citewise audit export``)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    at: datetime
    action: AuditAction
    user_id: str
    groups: tuple[str, ...]
    tenant: str | None
    question_sha256: str | None = Field(
        description="SHA-256 of the question's UTF-8 text (questions only)."
    )
    question: str | None = Field(description="The question, only with audit.store_questions.")
    doc_ids: tuple[str, ...] = Field(description="Documents shown (sources, citations, hits).")
    chunk_ids: tuple[str, ...] = Field(description="Chunks shown.")
    outcome: str | None = Field(
        description="answered, withheld (answered, some statements withheld), abstained:<reason>"
        " or quoted for questions; hits:<n> for searches."
    )
    answer_id: str | None
    target: str | None = Field(description="The document or key an admin action acted on.")
    detail: dict[str, JsonValue] = Field(default_factory=dict)


def question_digest(question: str) -> str:
    """The SHA-256 (hex) of a question's UTF-8 text, as the audit log keeps it."""
    return hashlib.sha256(question.encode("utf-8")).hexdigest()


class AuditStore(SqlStore):
    """The audit log in a SQL database (SQLite or PostgreSQL). Append and read; ``purge``
    alone removes rows, and only those older than a cut-off."""

    def __init__(self, url: str, *, store_questions: bool = False) -> None:
        super().__init__(url, _Base.metadata, "audit log")
        self._store_questions = store_questions

    def record(
        self,
        action: AuditAction,
        principal: Principal,
        *,
        question: str | None = None,
        doc_ids: Iterable[str] = (),
        chunk_ids: Iterable[str] = (),
        outcome: str | None = None,
        answer_id: str | None = None,
        target: str | None = None,
        detail: dict[str, JsonValue] | None = None,
    ) -> AuditEvent:
        """Append one row, stamped now (UTC). Ids keep their first-seen order, without
        duplicates; the question is hashed (and kept only with ``store_questions``)."""
        row = _AuditRow(
            event_id=uuid4().hex,
            at=datetime.now(UTC),
            action=action.value,
            user_id=principal.user_id,
            groups=json.dumps(list(principal.groups)),
            tenant=principal.tenant,
            question_sha256=question_digest(question) if question is not None else None,
            question=question if question is not None and self._store_questions else None,
            doc_ids=json.dumps(list(dict.fromkeys(doc_ids))),
            chunk_ids=json.dumps(list(dict.fromkeys(chunk_ids))),
            outcome=outcome,
            answer_id=answer_id,
            target=target,
            detail=json.dumps(detail or {}),
        )
        with self._session() as s:
            s.add(row)
        return _to_event(row)

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
        actions: Sequence[AuditAction] = (),
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Rows oldest first: at or after ``since``, before ``until``, by ``user_id`` and of
        ``actions`` when given; at most ``limit`` (the oldest ones)."""
        query = select(_AuditRow).order_by(_AuditRow.at, _AuditRow.event_id)
        if since is not None:
            query = query.where(_AuditRow.at >= _as_utc(since))
        if until is not None:
            query = query.where(_AuditRow.at < _as_utc(until))
        if user_id is not None:
            query = query.where(_AuditRow.user_id == user_id)
        if actions:
            query = query.where(_AuditRow.action.in_([a.value for a in actions]))
        if limit is not None:
            query = query.limit(limit)
        with self._session() as s:
            return [_to_event(row) for row in s.scalars(query)]

    def purge(self, before: datetime) -> int:
        """Delete the rows recorded before ``before`` (the retention cut-off); how many."""
        with self._session() as s:
            result = s.execute(delete(_AuditRow).where(_AuditRow.at < _as_utc(before)))
            return int(getattr(result, "rowcount", 0) or 0)


def _as_utc(value: datetime) -> datetime:
    # SQLite compares the stored UTC wall-clock text: bring any zone to UTC (naive is UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored value was written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_event(row: _AuditRow) -> AuditEvent:
    return AuditEvent(
        event_id=row.event_id,
        at=_utc(row.at),
        action=AuditAction(row.action),
        user_id=row.user_id,
        groups=tuple(json.loads(row.groups)),
        tenant=row.tenant,
        question_sha256=row.question_sha256,
        question=row.question,
        doc_ids=tuple(json.loads(row.doc_ids)),
        chunk_ids=tuple(json.loads(row.chunk_ids)),
        outcome=row.outcome,
        answer_id=row.answer_id,
        target=row.target,
        detail=json.loads(row.detail),
    )
