"""The ingestion job queue on real SQLite, and on the local PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.models import Acl, IngestOutcome, JobKind, JobStatus
from ingest.job_store import JobStore


@pytest.fixture
def jobs(database_url: str) -> Iterator[JobStore]:
    store = JobStore(database_url)
    yield store
    store.close()


def submit(jobs: JobStore, name: str, acl: Acl | None = None) -> str:
    job = jobs.submit_upload(
        doc_id=f"doc-{name}",
        source_uri=f"upload:///{name}",
        filename=name,
        file_type="md",
        size_bytes=10,
        staged_path=Path(f"/staging/{name}"),
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
    assert (claimed.acl, claimed.staged_path, claimed.attempts) == (
        Acl(groups=("hr",)),
        Path("/staging/a.md"),
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
