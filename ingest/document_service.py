"""Documents as an API manages them: visible listings, uploads and deletes queued as jobs,
ACL changes applied at once."""

from __future__ import annotations

from typing import BinaryIO

from core.errors import NotFoundError
from core.ids import document_id
from core.models import Acl, Document, IngestJob, JobStatus, Principal
from ingest.job_runner import JobRunner
from ingest.job_store import JobStore
from ingest.registry import DocumentRegistry
from ingest.upload_staging import UploadStaging
from ingest.writer import DocumentWriter
from retrieval.query import AccessScope


class DocumentService:
    """What the document and job endpoints do, over the registry, the job queue and staging.

    Reads are filtered by the caller's access: a document the caller may not read does not
    exist for them (NotFoundError), exactly like a search never returns its chunks. ``admin``
    callers see and manage every document.
    """

    def __init__(
        self,
        *,
        registry: DocumentRegistry,
        jobs: JobStore,
        staging: UploadStaging,
        writer: DocumentWriter,
        runner: JobRunner | None,
    ) -> None:
        self._registry = registry
        self._jobs = jobs
        self._staging = staging
        self._writer = writer
        self._runner = runner

    def list_documents(self, caller: Principal, *, admin: bool) -> list[Document]:
        """The documents the caller may read (all of them for an admin)."""
        documents = self._registry.list_documents()
        return [d for d in documents if admin or _readable(caller, d)]

    def get(self, doc_id: str, caller: Principal, *, admin: bool) -> Document:
        """One document, if the caller may read it; NotFoundError otherwise."""
        document = self._registry.get(doc_id)
        if not admin and not _readable(caller, document):
            raise NotFoundError(f"no document {doc_id}")
        return document

    def upload(
        self, stream: BinaryIO, client_name: str, acl: Acl | None, caller: Principal
    ) -> IngestJob:
        """Stage an upload and queue its ingestion; the job's id tracks it."""
        staged = self._staging.stage(stream, client_name)
        try:
            job = self._jobs.submit_upload(
                doc_id=document_id(staged.source_uri),
                source_uri=staged.source_uri,
                filename=staged.display_name,
                file_type=staged.file_type,
                size_bytes=staged.size_bytes,
                staged_ref=staged.ref,
                acl=acl,
                submitted_by=caller.user_id,
            )
        except BaseException:
            self._staging.discard(staged.ref)
            raise
        self._wake()
        return job

    def delete(self, doc_id: str, caller: Principal) -> IngestJob:
        """Queue the purge of a document (after the jobs already queued for it)."""
        document = self._registry.get(doc_id)
        job = self._jobs.submit_delete(
            doc_id=doc_id, source_uri=document.source_uri, submitted_by=caller.user_id
        )
        self._wake()
        return job

    def set_acl(self, doc_id: str, acl: Acl) -> Document:
        """Change who may read a document, now (a payload update; nothing is re-embedded)."""
        if self._runner is None:
            self._writer.set_acl(doc_id, acl)
        else:
            with self._runner.exclusive():
                self._writer.set_acl(doc_id, acl)
        return self._registry.get(doc_id)

    def job(self, job_id: str, caller: Principal, *, admin: bool) -> IngestJob:
        """A job, to the admin or whoever submitted it; NotFoundError to anyone else."""
        job = self._jobs.get(job_id)
        if not admin and job.submitted_by != caller.user_id:
            raise NotFoundError(f"no job {job_id}")
        return job

    def recent_jobs(self, *, limit: int) -> list[IngestJob]:
        """The most recent jobs, newest first (an admin view)."""
        return self._jobs.list_jobs(limit=limit)

    def job_counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status."""
        return self._jobs.count_by_status()

    def _wake(self) -> None:
        if self._runner is not None:
            self._runner.wake()


def _readable(caller: Principal, document: Document) -> bool:
    return AccessScope.for_principal(caller).admits(document.acl, document.tenant)
