"""Ingestion jobs: uploads and deletes queued by the API, run by workers, kept in the registry.

Job state lives in the registry's database, shared by every worker process on every host.

**Leases.** A claim holds the job until ``lease_expires_at``; the running worker renews it with
a heartbeat (``renew_lease``). When a worker dies its lease runs out and *any* worker claims the
job again, by the same compare-and-set as a queued job, one attempt more (the runner gives up
past ``ingest.max_job_attempts``). A worker that restarts under its old ``worker_id`` takes its
own jobs back at once (``requeue_claimed``) instead of waiting for the lease. Closing a job is
fenced by the claim (worker and attempt): a worker that lost its lease cannot overwrite the
result of the worker that took the job over. The document writer's crash-safe order makes
re-running a half-done job leave no duplicates.

**Per-document order.** A job is claimable only while it is the oldest unfinished job of its
document: no other job of that document is running, and none queued before it is still
queued. This one condition in the claim query gives both exclusion (never two jobs of a
document at once) and order (an upload and a delete queued together run in the order queued)
across processes and hosts, on PostgreSQL as on SQLite, with no lock held while a job runs.
An advisory lock per document would give exclusion only: the younger job could take the lock
first. The condition reads committed rows, and every job only moves forward (queued, running,
final), so two claimers cannot both see a document free: the older job is queued or running in
any snapshot until it is final.

On PostgreSQL the claim skips rows another worker is claiming (``FOR UPDATE SKIP LOCKED``); on
SQLite (the embedded default: one process) the same query runs without row locks.

Leases compare the workers' clocks (UTC): hosts should agree to well within a lease (NTP).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

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
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )


JOB_METADATA = _Base.metadata
"""The job table's schema (for migrations and their tests)."""


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker now owns, with what it needs to run it (never shown through the API)."""

    job_id: str
    kind: JobKind
    doc_id: str
    source_uri: str
    staged_ref: str | None
    acl: Acl | None
    attempts: int
    worker: str


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
        staged_ref: str,
        acl: Acl | None,
        submitted_by: str,
    ) -> IngestJob:
        """Queue a staged upload (``staged_ref``: its reference in the upload staging) for
        indexing; ``acl`` None keeps the document's current ACL (or the configured default for
        a new document)."""
        row = _new_row(JobKind.UPLOAD, doc_id, source_uri, submitted_by)
        row.filename = filename
        row.file_type = file_type
        row.size_bytes = size_bytes
        row.staged_path = staged_ref
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

    def claim_next(self, worker: str, *, lease_s: float = 60.0) -> ClaimedJob | None:
        """Take the oldest claimable job for ``worker`` for ``lease_s`` seconds; None when
        there is none.

        Claimable: queued, or running under an expired lease (its worker died), and the oldest
        unfinished job of its document (module docstring). The claim is a compare-and-set on
        the state just read, so two workers never take the same job.
        """
        while True:
            now = _now()
            with self._session() as s:
                query = (
                    select(_JobRow.job_id, _JobRow.status)
                    .where(_claimable(now), ~_blocked_by_another_job())
                    .order_by(_JobRow.created_at, _JobRow.job_id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                found = s.execute(query).first()
                if found is None:
                    return None
                job_id, status = found
                # Read after the query: no earlier than the end of the job this one waited for.
                claimed_at = _now()
                still = (
                    _JobRow.status == JobStatus.QUEUED.value
                    if status == JobStatus.QUEUED.value
                    else _expired(now)
                )
                taken = s.execute(
                    update(_JobRow)
                    .where(_JobRow.job_id == job_id, still)
                    .values(
                        status=JobStatus.RUNNING.value,
                        worker=worker,
                        attempts=_JobRow.attempts + 1,
                        started_at=claimed_at,
                        lease_expires_at=claimed_at + timedelta(seconds=lease_s),
                    )
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker won the race: try the next job
                row = s.get(_JobRow, job_id, populate_existing=True)
                assert row is not None
                return _claimed(row)

    def renew_lease(self, job: ClaimedJob, lease_s: float) -> bool:
        """Extend the claim on a running job by ``lease_s`` from now (the heartbeat); False when
        the claim is lost (its lease ran out and another worker took the job)."""
        with self._session() as s:
            renewed = s.execute(
                update(_JobRow)
                .where(_holds(job))
                .values(lease_expires_at=_now() + timedelta(seconds=lease_s))
            )
            return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    def finish(
        self, job: str | ClaimedJob, outcome: IngestOutcome, *, chunk_count: int = 0
    ) -> bool:
        """Mark a job done; given the claim, only while it still holds (False if lost)."""
        return self._close(job, JobStatus.DONE, outcome=outcome, chunk_count=chunk_count)

    def fail(self, job: str | ClaimedJob, error: str) -> bool:
        """Mark a job failed with a one-line reason; given the claim, only while it holds."""
        return self._close(job, JobStatus.FAILED, outcome=IngestOutcome.FAILED, error=error)

    def requeue_claimed(self, worker: str) -> list[str]:
        """Put back in the queue the jobs ``worker`` was running when it stopped (called at its
        start-up, before it claims anything, so they need not wait for their lease to run
        out); returns their ids. ``worker`` must name no other live process."""
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
                    .where(_JobRow.job_id.in_(ids), _JobRow.worker == worker)
                    .values(status=JobStatus.QUEUED.value, worker=None, lease_expires_at=None)
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
        job: str | ClaimedJob,
        status: JobStatus,
        *,
        outcome: IngestOutcome,
        chunk_count: int | None = None,
        error: str | None = None,
    ) -> bool:
        job_id = job if isinstance(job, str) else job.job_id
        with self._session() as s:  # write first: on SQLite a read would have to upgrade
            closed = s.execute(
                update(_JobRow)
                .where(_JobRow.job_id == job_id if isinstance(job, str) else _holds(job))
                .values(
                    status=status.value,
                    outcome=outcome.value,
                    chunk_count=chunk_count,
                    error=error,
                    finished_at=_now(),
                    lease_expires_at=None,
                )
            )
            if closed.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if s.get(_JobRow, job_id) is None:
                raise NotFoundError(f"no job {job_id}")
            return False


def _expired(now: datetime) -> ColumnElement[bool]:
    """A running job whose worker stopped renewing its lease (or that predates leases)."""
    return and_(
        _JobRow.status == JobStatus.RUNNING.value,
        or_(_JobRow.lease_expires_at.is_(None), _JobRow.lease_expires_at < now),
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(_JobRow.status == JobStatus.QUEUED.value, _expired(now))


def _blocked_by_another_job() -> ColumnElement[bool]:
    """Another job of the same document is running, or was queued before this one and is
    still queued: this one must wait (module docstring)."""
    other = aliased(_JobRow)
    earlier = or_(
        other.created_at < _JobRow.created_at,
        and_(other.created_at == _JobRow.created_at, other.job_id < _JobRow.job_id),
    )
    return exists().where(
        other.doc_id == _JobRow.doc_id,
        other.job_id != _JobRow.job_id,
        or_(
            other.status == JobStatus.RUNNING.value,
            and_(other.status == JobStatus.QUEUED.value, earlier),
        ),
    )


def _holds(job: ClaimedJob) -> ColumnElement[bool]:
    """The job is still running under this claim (same worker, same attempt)."""
    return and_(
        _JobRow.job_id == job.job_id,
        _JobRow.status == JobStatus.RUNNING.value,
        _JobRow.worker == job.worker,
        _JobRow.attempts == job.attempts,
    )


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
        staged_ref=row.staged_path,
        acl=_acl(row),
        attempts=row.attempts,
        worker=row.worker or "",
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
