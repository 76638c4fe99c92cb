"""Runs queued ingestion jobs in a background thread of ``citewise serve`` or ``citewise worker``.

One job at a time per runner; several runners, in processes on any host, share the queue: the
job store hands out a document's jobs one at a time, in the order they were queued. While a
job runs a heartbeat thread renews its lease (every third of ``lease_s``), so only a dead or
stuck worker's job is taken over by another. Parsing still happens in the pipeline's worker
process, so a parser crash costs that job, not the server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from core.errors import CitewiseError, NotFoundError
from core.logging import fields
from core.models import Acl, FileResult, IngestJob, IngestOutcome, JobKind
from core.tracing import NOOP_TRACER, Tracer
from ingest.job_store import ClaimedJob, JobStore
from ingest.pipeline import IngestPipeline
from ingest.registry import DocumentRegistry
from ingest.sources import SourceFile
from ingest.upload_staging import UploadStaging
from ingest.writer import DocumentWriter

log = logging.getLogger(__name__)

JobCallback = Callable[[IngestJob, float], None]
"""Told of every finished job and how many seconds it ran (for metrics)."""


class JobRunner:
    """Claims jobs from the store and applies them to the index and the registry."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        pipeline: IngestPipeline,
        writer: DocumentWriter,
        registry: DocumentRegistry,
        staging: UploadStaging,
        default_acl: Acl,
        worker_id: str,
        max_attempts: int = 3,
        poll_s: float = 2.0,
        lease_s: float = 60.0,
        tracer: Tracer = NOOP_TRACER,
    ) -> None:
        """``tracer`` times each job as an ``ingest.job`` span (the pipeline's stages nest
        under it when the pipeline shares the tracer)."""
        self._tracer = tracer
        self._jobs = jobs
        self._pipeline = pipeline
        self._writer = writer
        self._registry = registry
        self._staging = staging
        self._default_acl = default_acl
        self._worker_id = worker_id
        self._max_attempts = max_attempts
        self._poll_s = poll_s
        self._lease_s = lease_s
        self._listeners: list[JobCallback] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Held while a job runs; synchronous document changes (an ACL edit) take it too.
        self._mutating = threading.Lock()

    def start(self) -> list[str]:
        """Requeue the jobs this worker was running when it last stopped, then start the
        background thread; returns the requeued job ids."""
        resumed = self._jobs.requeue_claimed(self._worker_id)
        if resumed:
            log.warning("resuming interrupted jobs", extra=fields(jobs=len(resumed)))
        self._thread = threading.Thread(target=self._loop, name="ingest-jobs", daemon=True)
        self._thread.start()
        return resumed

    @property
    def worker_id(self) -> str:
        """The name under which this runner claims jobs."""
        return self._worker_id

    def subscribe(self, listener: JobCallback) -> None:
        """Call ``listener`` with every job this runner finishes (for metrics)."""
        self._listeners.append(listener)

    def wake(self) -> None:
        """Look at the queue now rather than at the next poll (a job was just submitted)."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the job in progress (up to ``timeout_s``) and stop; queued jobs stay queued
        for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("a job is still running at shutdown; it resumes at next start")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Change a document outside the queue without racing the job in progress."""
        with self._mutating:
            yield

    def run_pending(self) -> int:
        """Run queued jobs until the queue is empty (or stop is asked); returns how many ran."""
        ran = 0
        while not self._stopping.is_set():
            job = self._jobs.claim_next(self._worker_id, lease_s=self._lease_s)
            if job is None:
                return ran
            self._run(job)
            ran += 1
        return ran

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pending()
            except CitewiseError as e:  # the database is away: keep polling, don't die
                log.error("job queue unavailable", extra=fields(error=e.message))
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def _run(self, job: ClaimedJob) -> None:
        started = time.perf_counter()
        attributes = {"job.id": job.job_id, "job.kind": job.kind.value, "document.id": job.doc_id}
        with self._mutating, self._heartbeat(job), self._tracer.span("ingest.job", **attributes):
            try:
                if job.attempts > self._max_attempts:
                    reason = (
                        f"gave up after {self._max_attempts} attempts: the worker stopped "
                        "during each of them"
                    )
                    if job.kind is JobKind.UPLOAD:
                        self._writer.abandon_pending(job.doc_id, reason)
                    self._close(job, self._jobs.fail(job, reason))
                elif job.kind is JobKind.DELETE:
                    self._delete(job)
                else:
                    self._upload(job)
            except CitewiseError as e:
                self._close(job, self._jobs.fail(job, e.message))
            except Exception as e:  # a bug must fail one job, not stop the worker thread
                log.exception("job crashed", extra=fields(job_id=job.job_id))
                self._close(job, self._jobs.fail(job, f"internal error: {type(e).__name__}: {e}"))
        finished = self._jobs.get(job.job_id)
        if finished.status.is_final and job.staged_ref is not None:
            self._staging.discard(job.staged_ref)
        log.info(
            "job finished",
            extra=fields(job_id=job.job_id, status=finished.status, outcome=finished.outcome),
        )
        for listener in self._listeners:
            listener(finished, time.perf_counter() - started)

    @contextmanager
    def _heartbeat(self, job: ClaimedJob) -> Iterator[None]:
        """Renew the job's lease every third of it until the block ends."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self._lease_s / 3):
                try:
                    if not self._jobs.renew_lease(job, self._lease_s):
                        log.warning("lost the job's lease", extra=fields(job_id=job.job_id))
                        return
                except CitewiseError as e:  # the database is away: try again next beat
                    log.error("cannot renew the job's lease", extra=fields(error=e.message))

        thread = threading.Thread(target=beat, name=f"lease-{job.job_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    @staticmethod
    def _close(job: ClaimedJob, closed: bool) -> None:
        if not closed:
            log.warning(
                "the job was taken over after its lease ran out; its result is dropped",
                extra=fields(job_id=job.job_id),
            )

    def _upload(self, job: ClaimedJob) -> None:
        if job.staged_ref is None:
            self._close(job, self._jobs.fail(job, "the upload was never staged"))
            return
        with self._staging.open(job.staged_ref) as path:
            result = self._ingest(job, path)
        if result.outcome is IngestOutcome.FAILED:
            self._close(job, self._jobs.fail(job, result.error or "ingestion failed"))
            return
        chunks = result.chunks
        if result.outcome is IngestOutcome.UNCHANGED:
            chunks = self._registry.get(job.doc_id).chunk_count
        self._close(job, self._jobs.finish(job, result.outcome, chunk_count=chunks))

    def _ingest(self, job: ClaimedJob, path: Path) -> FileResult:
        acl = job.acl or self._current_acl(job.doc_id) or self._default_acl
        source = SourceFile(
            path=path, root=path.parent, relative_path=PurePosixPath(path.name), uri=job.source_uri
        )
        return self._pipeline.ingest_file(source, acl)

    def _delete(self, job: ClaimedJob) -> None:
        try:
            chunks = self._registry.get(job.doc_id).chunk_count
        except NotFoundError:  # already gone: nothing to do
            self._close(job, self._jobs.finish(job, IngestOutcome.DELETED))
            return
        self._writer.purge(job.doc_id)
        self._close(job, self._jobs.finish(job, IngestOutcome.DELETED, chunk_count=chunks))

    def _current_acl(self, doc_id: str) -> Acl | None:
        state = self._registry.state(doc_id)
        return state.acl if state is not None else None
