"""The ingestion job queue on real SQLite, and on the local PostgreSQL server: claims, leases
and their take-over, per-document order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TypeVar

import pytest

from core.errors import NotFoundError, RegistryError
from core.models import Acl, IngestOutcome, JobKind, JobStatus
from ingest.job_store import JobStore

T = TypeVar("T")


@pytest.fixture
def jobs(database_url: str) -> Iterator[JobStore]:
    store = JobStore(database_url)
    yield store
    store.close()


def submit(jobs: JobStore, name: str, acl: Acl | None = None, *, doc: str = "") -> str:
    job = jobs.submit_upload(
        doc_id=doc or f"doc-{name}",
        source_uri=f"upload:///{name}",
        filename=name,
        file_type="md",
        size_bytes=10,
        staged_ref=f"0123/{name}",
        acl=acl,
        submitted_by="ada",
    )
    assert (job.status, job.kind, job.attempts) == (JobStatus.QUEUED, JobKind.UPLOAD, 0)
    return job.job_id


def test_jobs_are_claimed_oldest_first_and_finished(jobs: JobStore) -> None:
    first = submit(jobs, "a.md", Acl(groups=("hr",)))
    second = submit(jobs, "b.md")
    deleting = jobs.submit_delete(doc_id="doc-c", source_uri="upload:///c.md", submitted_by="ada")

    claimed = jobs.claim_next("w1")
    assert claimed is not None and claimed.job_id == first
    assert (claimed.acl, claimed.staged_ref, claimed.attempts) == (
        Acl(groups=("hr",)),
        "0123/a.md",
        1,
    )
    assert jobs.get(first).status is JobStatus.RUNNING and jobs.get(first).started_at
    jobs.finish(first, IngestOutcome.ADDED, chunk_count=3)

    claimed = jobs.claim_next("w1")
    assert claimed is not None and claimed.job_id == second and claimed.acl is None
    jobs.fail(second, "ParseError: bad file")
    claimed = jobs.claim_next("w1")
    assert claimed is not None and claimed.kind is JobKind.DELETE
    assert claimed.job_id == deleting.job_id
    assert jobs.claim_next("w1") is None

    done, failed = jobs.get(first), jobs.get(second)
    assert (done.status, done.outcome, done.chunk_count) == (JobStatus.DONE, "added", 3)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "ParseError: bad file")
    assert done.finished_at is not None and done.finished_at >= done.started_at  # type: ignore[operator]
    assert jobs.count_by_status() == {
        JobStatus.QUEUED: 0,
        JobStatus.RUNNING: 1,
        JobStatus.DONE: 1,
        JobStatus.FAILED: 1,
    }
    assert [j.job_id for j in jobs.list_jobs(status=JobStatus.DONE)] == [first]
    with pytest.raises(NotFoundError):
        jobs.get("no-such-job")


def test_a_restarted_worker_requeues_only_its_own_jobs(jobs: JobStore) -> None:
    mine, theirs = submit(jobs, "a.md"), submit(jobs, "b.md")
    assert jobs.claim_next("w1") is not None
    assert jobs.claim_next("w2") is not None
    assert jobs.requeue_claimed("w1") == [mine]
    assert jobs.get(mine).status is JobStatus.QUEUED
    assert jobs.get(theirs).status is JobStatus.RUNNING
    again = jobs.claim_next("w1")
    assert again is not None and (again.job_id, again.attempts) == (mine, 2)


def test_concurrent_claims_never_share_a_job(jobs: JobStore) -> None:
    submitted = {submit(jobs, f"{n}.md") for n in range(20)}
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(worker: str) -> None:
        while (job := jobs.claim_next(worker)) is not None:
            with lock:
                claimed.append(job.job_id)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(submitted)  # each exactly once


def test_a_lease_that_runs_out_lets_another_worker_take_the_job(jobs: JobStore) -> None:
    job_id = submit(jobs, "a.md")
    first = jobs.claim_next("w1", lease_s=0.5)
    assert first is not None and first.worker == "w1"
    assert jobs.claim_next("w2", lease_s=0.5) is None  # held
    assert jobs.renew_lease(first, 0.5)
    time.sleep(0.7)
    second = jobs.claim_next("w2", lease_s=30)
    assert second is not None and (second.job_id, second.worker, second.attempts) == (
        job_id,
        "w2",
        2,
    )
    assert jobs.claim_next("w3") is None  # w2's lease holds
    # w1 wakes up: its claim is gone, so it can neither renew nor close the job.
    assert not jobs.renew_lease(first, 30)
    assert not jobs.finish(first, IngestOutcome.ADDED, chunk_count=1)
    assert jobs.get(job_id).status is JobStatus.RUNNING
    assert jobs.finish(second, IngestOutcome.ADDED, chunk_count=2)
    done = jobs.get(job_id)
    assert (done.status, done.chunk_count, done.attempts) == (JobStatus.DONE, 2, 2)
    assert not jobs.renew_lease(second, 30)  # a closed job has no lease
    assert jobs.claim_next("w3", lease_s=0.01) is None


def test_a_document_s_jobs_are_claimed_one_at_a_time_in_order(jobs: JobStore) -> None:
    upload = submit(jobs, "a.md", doc="doc-a")
    delete = jobs.submit_delete(doc_id="doc-a", source_uri="upload:///a.md", submitted_by="ada")
    other = submit(jobs, "b.md")

    first = jobs.claim_next("w1")
    assert first is not None and first.job_id == upload
    # The delete waits for the upload; another document's job does not.
    second = jobs.claim_next("w2")
    assert second is not None and second.job_id == other
    assert jobs.claim_next("w2") is None
    jobs.fail(first, "ParseError: bad file")  # a failed job releases its document too
    third = jobs.claim_next("w2")
    assert third is not None and third.job_id == delete.job_id


def test_a_requeued_job_still_goes_before_its_document_s_later_jobs(jobs: JobStore) -> None:
    upload = submit(jobs, "a.md", doc="doc-a")
    delete = jobs.submit_delete(doc_id="doc-a", source_uri="upload:///a.md", submitted_by="ada")
    assert jobs.claim_next("w1") is not None
    assert jobs.requeue_claimed("w1") == [upload]
    again = jobs.claim_next("w2")
    assert again is not None and again.job_id == upload
    assert jobs.claim_next("w3") is None
    assert jobs.finish(again, IngestOutcome.ADDED, chunk_count=1)
    last = jobs.claim_next("w3")
    assert last is not None and last.job_id == delete.job_id


def test_concurrent_workers_run_each_document_s_jobs_in_order(jobs: JobStore) -> None:
    """Eight threads drain five documents' interleaved uploads and deletes: no two jobs of a
    document ever overlap, and each document's jobs start in the order they were queued."""
    queued: dict[str, list[str]] = {}
    for round_ in range(4):
        for n in range(5):
            doc = f"doc-{n}"
            if round_ % 2:
                job = jobs.submit_delete(doc_id=doc, source_uri=doc, submitted_by="ada").job_id
            else:
                job = submit(jobs, f"{n}-{round_}.md", doc=doc)
            queued.setdefault(doc, []).append(job)
    started: dict[str, list[str]] = {doc: [] for doc in queued}
    running: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()

    def retrying(call: Callable[[], T]) -> T:
        # SQLite may answer "database is locked" to eight writers: retryable, as the runner
        # treats it (it polls again).
        while True:
            try:
                return call()
            except RegistryError as e:
                assert e.retryable
                time.sleep(0.01)

    def work(worker: str) -> None:
        while (job := retrying(partial(jobs.claim_next, worker))) is not None:
            with lock:
                if job.doc_id in running:
                    overlaps.append(job.doc_id)
                running.add(job.doc_id)
                started[job.doc_id].append(job.job_id)
            time.sleep(0.005)
            with lock:
                running.discard(job.doc_id)
            assert retrying(partial(jobs.finish, job, IngestOutcome.ADDED))

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert started == queued
