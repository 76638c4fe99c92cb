"""Ingestion jobs: uploads and deletes queued by the API, run by a worker, kept in the registry.

Job state lives in the registry's database, so a worker that stops mid-job (crash, restart,
deploy) finds its job again: at start-up it puts the jobs it had claimed back in the queue, and
the document writer's crash-safe order makes re-running a half-done job leave no duplicates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.errors import NotFoundError
from core.models import Acl, IngestJob, IngestOutcome, JobKind, JobStatus
from store.sql_store import SqlStore


class _Base(DeclarativeBase):
    pass


class _JobRow(_Base):
    __tablename__ = "ingest_jobs"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    doc_id: Mapped[str] = mapped_column(String(36), index=True)
    source_uri: Mapped[str] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text, nullable=True)
    file_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staged_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    acl_users: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    acl_groups: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    submitted_by: Mapped[str] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    chunk_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


JOB_METADATA = _Base.metadata
"""The job table's schema (for migrations and their tests)."""


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker now owns, with what it needs to run it (never shown through the API)."""

    job_id: str
    kind: JobKind
    doc_id: str
    source_uri: str
    staged_path: Path | None
    acl: Acl | None
    attempts: int


class JobStore(SqlStore):
    """The queue of ingestion jobs, in the registry's database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _Base.metadata, "job store")

    def submit_upload(
        self,
        *,
        doc_id: str,
        source_uri: str,
        filename: str,
        file_type: str,
        size_bytes: int,
        staged_path: Path,
        acl: Acl | None,
        submitted_by: str,
    ) -> IngestJob:
        """Queue a staged upload for indexing; ``acl`` None keeps the document's current ACL
        (or the configured default for a new document)."""
        row = _new_row(JobKind.UPLOAD, doc_id, source_uri, submitted_by)
        row.filename = filename
        row.file_type = file_type
        row.size_bytes = size_bytes
        row.staged_path = str(staged_path)
        if acl is not None:
            row.acl_users, row.acl_groups = list(acl.users), list(acl.groups)
        with self._session() as s:
            s.add(row)
            s.flush()
            return _to_job(row)

    def submit_delete(self, *, doc_id: str, source_uri: str, submitted_by: str) -> IngestJob:
        """Queue the purge of a document."""
        row = _new_row(JobKind.DELETE, doc_id, source_uri, submitted_by)
        with self._session() as s:
            s.add(row)
            s.flush()
            return _to_job(row)

    def get(self, job_id: str) -> IngestJob:
        """The job with this id; NotFoundError if there is none."""
        with self._session() as s:
            row = s.get(_JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            return _to_job(row)

    def list_jobs(self, *, status: JobStatus | None = None, limit: int = 100) -> list[IngestJob]:
        """The most recent jobs first, optionally only those in ``status``."""
        with self._session() as s:
            query = select(_JobRow).order_by(_JobRow.created_at.desc()).limit(limit)
            if status is not None:
                query = query.where(_JobRow.status == status.value)
            return [_to_job(row) for row in s.scalars(query)]

    def claim_next(self, worker: str) -> ClaimedJob | None:
        """Take the oldest queued job for ``worker``; None when the queue is empty.

        The claim is a compare-and-set (``UPDATE ... WHERE status = 'queued'``), so two workers
        never take the same job, on SQLite as on PostgreSQL; there the row lock also lets a
        concurrent claimer skip to the next job instead of waiting.
        """
        while True:
            with self._session() as s:
                query = (
                    select(_JobRow.job_id)
                    .where(_JobRow.status == JobStatus.QUEUED.value)
                    .order_by(_JobRow.created_at, _JobRow.job_id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                job_id = s.scalars(query).first()
                if job_id is None:
                    return None
                taken = s.execute(
                    update(_JobRow)
                    .where(_JobRow.job_id == job_id, _JobRow.status == JobStatus.QUEUED.value)
                    .values(
                        status=JobStatus.RUNNING.value,
                        worker=worker,
                        attempts=_JobRow.attempts + 1,
                        started_at=_now(),
                    )
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker won the race: try the next job
                row = s.get(_JobRow, job_id, populate_existing=True)
                assert row is not None
                return _claimed(row)

    def finish(self, job_id: str, outcome: IngestOutcome, *, chunk_count: int = 0) -> None:
        """Mark a job done."""
        self._close(job_id, JobStatus.DONE, outcome=outcome, chunk_count=chunk_count)

    def fail(self, job_id: str, error: str) -> None:
        """Mark a job failed with a one-line reason."""
        self._close(job_id, JobStatus.FAILED, outcome=IngestOutcome.FAILED, error=error)

    def requeue_claimed(self, worker: str) -> list[str]:
        """Put back in the queue the jobs ``worker`` was running when it stopped (called at its
        start-up, before it claims anything); returns their ids."""
        with self._session() as s:
            ids = list(
                s.scalars(
                    select(_JobRow.job_id).where(
                        _JobRow.status == JobStatus.RUNNING.value, _JobRow.worker == worker
                    )
                )
            )
            if ids:
                s.execute(
                    update(_JobRow)
                    .where(_JobRow.job_id.in_(ids))
                    .values(status=JobStatus.QUEUED.value, worker=None)
                )
            return ids

    def count_by_status(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (for metrics)."""
        with self._session() as s:
            rows = s.execute(select(_JobRow.status, func.count()).group_by(_JobRow.status))
            counts = dict.fromkeys(JobStatus, 0)
            for status, count in rows:
                counts[JobStatus(status)] = count
            return counts

    def _close(
        self,
        job_id: str,
        status: JobStatus,
        *,
        outcome: IngestOutcome,
        chunk_count: int | None = None,
        error: str | None = None,
    ) -> None:
        with self._session() as s:
            row = s.get(_JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            row.status = status.value
            row.outcome = outcome.value
            row.chunk_count = chunk_count
            row.error = error
            row.finished_at = _now()


def _new_row(kind: JobKind, doc_id: str, source_uri: str, submitted_by: str) -> _JobRow:
    return _JobRow(
        job_id=str(uuid.uuid4()),
        kind=kind.value,
        status=JobStatus.QUEUED.value,
        doc_id=doc_id,
        source_uri=source_uri,
        submitted_by=submitted_by,
        attempts=0,
        created_at=_now(),
    )


def _claimed(row: _JobRow) -> ClaimedJob:
    return ClaimedJob(
        job_id=row.job_id,
        kind=JobKind(row.kind),
        doc_id=row.doc_id,
        source_uri=row.source_uri,
        staged_path=Path(row.staged_path) if row.staged_path else None,
        acl=_acl(row),
        attempts=row.attempts,
    )


def _acl(row: _JobRow) -> Acl | None:
    if row.acl_users is None and row.acl_groups is None:
        return None  # none given: the document keeps (or gets) its default
    return Acl(users=tuple(row.acl_users or ()), groups=tuple(row.acl_groups or ()))


def _now() -> datetime:
    return datetime.now(UTC)


def _to_job(row: _JobRow) -> IngestJob:
    return IngestJob(
        job_id=row.job_id,
        kind=JobKind(row.kind),
        status=JobStatus(row.status),
        doc_id=row.doc_id,
        filename=row.filename,
        file_type=row.file_type,
        size_bytes=row.size_bytes,
        acl=_acl(row),
        submitted_by=row.submitted_by,
        outcome=IngestOutcome(row.outcome) if row.outcome else None,
        chunk_count=row.chunk_count,
        error=row.error,
        attempts=row.attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
