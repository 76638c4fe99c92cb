"""Several ``citewise worker`` processes on one PostgreSQL job queue: a dead worker's job is
taken over when its lease runs out, a document's jobs run in the order they were queued, and a
worker restarted under a new name runs nothing twice (real processes, parser and MiniLM).

No Qdrant server runs here, and both embedded indexes (qdrant-edge, qdrant-client's local
mode) admit one process at a time, so workers running side by side write to an index each
(``index.path``); the queue, the registry and the staged uploads are shared, as in the scaled
deployment. A worker started after another died may open the dead one's index, which the
restart test does to check the index after a take-over.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy

from api.composition import build_parser
from core.ids import document_id
from core.models import Acl, IngestJob, JobStatus
from core.settings import Settings
from ingest.job_store import JobStore
from ingest.registry import DocumentRegistry
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import LocalUploadStaging
from retrieval.embedder import MINILM_DIMENSION
from retrieval.qdrant_edge_index import QdrantEdgeIndex

pytestmark = [pytest.mark.model, pytest.mark.postgres, pytest.mark.slow]

LEASE_S = 3.0


class Cluster:
    """Worker processes over one data directory (the staged uploads) and one PostgreSQL
    database, each with an index of its own unless told to open another's."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.data = root / "data"
        self.data.mkdir()
        self.jobs = JobStore(url)
        self.staging = LocalUploadStaging(
            self.data / "uploads", max_bytes=10**7, sniff=sniff_extension
        )
        self.workers: dict[str, subprocess.Popen[str]] = {}
        self._logs: list[IO[str]] = []

    def index_path(self, name: str) -> Path:
        return self.root / f"index-{name}"

    def start(self, worker_id: str, *, index_of: str | None = None) -> None:
        """Start ``citewise worker`` as ``worker_id`` and wait until its loop turns."""
        beat = self.root / f"{worker_id}.heartbeat"
        env = {
            **os.environ,
            "CITEWISE_DATA_DIR": str(self.data),
            "CITEWISE_REGISTRY__URL": self.url,
            "CITEWISE_INDEX__PATH": str(self.index_path(index_of or worker_id)),
            "CITEWISE_INGEST__WORKER_ID": worker_id,
            "CITEWISE_INGEST__JOB_LEASE_S": str(LEASE_S),
            "CITEWISE_INGEST__JOB_POLL_S": "0.2",
            "CITEWISE_INGEST__WORKERS": "0",  # parse inline: no parser process to start
            "CITEWISE_INGEST__EMBED_GROUP": "16",  # write in several steps: more places to die
        }
        env.pop("CITEWISE_CONFIG", None)
        log = (self.root / f"{worker_id}.log").open("w")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--heartbeat", str(beat)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        self.workers[worker_id] = process
        deadline = time.monotonic() + 300
        while not beat.exists():
            assert process.poll() is None, self.log(worker_id)
            assert time.monotonic() < deadline, f"{worker_id} was not ready within 300 s"
            time.sleep(0.2)

    def log(self, worker_id: str) -> str:
        return (self.root / f"{worker_id}.log").read_text()

    def kill(self, worker_id: str) -> datetime:
        process = self.workers.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        process.wait()
        return datetime.now(UTC)

    def stop(self, worker_id: str) -> None:
        process = self.workers.pop(worker_id)
        process.send_signal(signal.SIGTERM)
        assert process.wait(120) == 0, self.log(worker_id)

    def close(self) -> None:
        for worker_id in list(self.workers):
            self.kill(worker_id)
        self.jobs.close()
        for log in self._logs:
            log.close()

    def upload(self, name: str, content: bytes) -> IngestJob:
        """What the API does on an upload: stage the bytes, queue the job."""
        staged = self.staging.stage(io.BytesIO(content), name)
        return self.jobs.submit_upload(
            doc_id=document_id(staged.source_uri),
            source_uri=staged.source_uri,
            filename=staged.display_name,
            file_type=staged.file_type,
            size_bytes=staged.size_bytes,
            staged_ref=staged.ref,
            acl=Acl(groups=("public",)),
            submitted_by="ada",
        )

    def delete(self, upload: IngestJob) -> IngestJob:
        return self.jobs.submit_delete(
            doc_id=upload.doc_id, source_uri=f"upload:///{upload.filename}", submitted_by="ada"
        )

    def wait(self, job_id: str, *, until: frozenset[JobStatus], timeout_s: float) -> IngestJob:
        deadline = time.monotonic() + timeout_s
        while (job := self.jobs.get(job_id)).status not in until:
            assert time.monotonic() < deadline, (job, {w: self.log(w) for w in self.workers})
            for worker_id, process in self.workers.items():
                assert process.poll() is None, self.log(worker_id)
            time.sleep(0.1)
        return job

    def done(self, job_id: str, timeout_s: float = 300) -> IngestJob:
        job = self.wait(job_id, until=FINAL, timeout_s=timeout_s)
        assert job.status is JobStatus.DONE, job
        return job


FINAL = frozenset({JobStatus.DONE, JobStatus.FAILED})
RUNNING = frozenset({JobStatus.RUNNING})


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, postgres_url)
    try:
        yield cluster
    finally:
        cluster.close()


def _handbook(path: Path) -> Path:
    """A document long enough (about 70 chunks) that a kill lands while it is embedded."""
    sections = [
        f"## Procedure {n}\n\nStep {n} of the onboarding checklist asks the new hire to "
        f"confirm item {n} with the facilities team, file form F-{n:03d} and keep the receipt "
        f"for audit; the manager signs off within {n % 7 + 1} working days.\n"
        for n in range(120)
    ]
    path.write_text("# Onboarding procedures\n\n" + "\n".join(sections), encoding="utf-8")
    return path


def _expected_chunks(path: Path) -> int:
    return len(build_parser(Settings.load(data_dir=path.parent)).process(path).passages)


def _index_counts(path: Path) -> tuple[dict[str, int], set[int]]:
    """Chunks per document in the index at ``path``, and the versions they belong to."""
    with QdrantEdgeIndex(path, dimension=MINILM_DIMENSION) as index:
        ids = index.document_ids()
        versions = {c.version for doc in ids for c in index.get_chunks(doc)}
        return {doc: index.count(doc) for doc in ids}, versions


def test_a_killed_worker_s_job_is_taken_over_when_its_lease_runs_out(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start("w-a")
    cluster.start("w-b")
    big = _handbook(tmp_path / "onboarding.md")
    job = cluster.upload("onboarding.md", big.read_bytes())
    cluster.wait(job.job_id, until=RUNNING, timeout_s=120)
    time.sleep(1.0)  # into parsing and embedding
    assert cluster.jobs.get(job.job_id).status is JobStatus.RUNNING, "the kill must land mid-job"
    holder = _claimed_by(cluster, job.job_id)
    assert holder is not None and holder in {"w-a", "w-b"}
    survivor = "w-b" if holder == "w-a" else "w-a"
    killed_at = cluster.kill(holder)

    finished = cluster.done(job.job_id)
    assert (finished.outcome, finished.attempts) == ("added", 2)
    assert _claimed_by(cluster, job.job_id) == survivor
    # Taken over once the dead worker's lease ran out (the claim query's condition).
    assert finished.started_at is not None and finished.started_at > killed_at
    cluster.stop(survivor)

    expected = _expected_chunks(big)
    counts, versions = _index_counts(cluster.index_path(survivor))
    registry = DocumentRegistry(cluster.url)
    try:
        document = registry.get(job.doc_id)
    finally:
        registry.close()
    assert counts == {job.doc_id: expected} and expected > 20
    assert versions == {document.version}
    assert document.chunk_count == finished.chunk_count == expected
    assert not list((cluster.data / "uploads").glob("*/*")), "the staged upload is removed"


def _claimed_by(cluster: Cluster, job_id: str) -> str | None:
    """The worker holding (or that last held) a job, from the queue's own row."""
    engine = sqlalchemy.create_engine(cluster.url)
    try:
        with engine.connect() as conn:
            worker: str | None = conn.execute(
                sqlalchemy.text("SELECT worker FROM ingest_jobs WHERE job_id = :id"),
                {"id": job_id},
            ).scalar_one()
            return worker
    finally:
        engine.dispose()


def test_an_upload_and_a_delete_queued_together_end_in_that_order(cluster: Cluster) -> None:
    cluster.start("w-a")
    cluster.start("w-b")
    registry = DocumentRegistry(cluster.url)
    try:
        for n in range(20):
            upload = cluster.upload(
                "memo.md", f"# Memo\n\nRound {n}: lockers close at 6.\n".encode()
            )
            delete = cluster.delete(upload)
            added, deleted = cluster.done(upload.job_id), cluster.done(delete.job_id)
            assert (added.outcome, added.chunk_count) == ("added", 1), n
            # The delete found the upload's document: it ran after the upload, not before.
            assert (deleted.outcome, deleted.chunk_count) == ("deleted", 1), n
            assert added.finished_at is not None and deleted.started_at is not None
            assert deleted.started_at >= added.finished_at, n
            assert (added.attempts, deleted.attempts) == (1, 1), n
            assert registry.list_documents() == [], n
    finally:
        registry.close()


def test_a_worker_restarted_under_a_new_name_runs_nothing_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start("w-1")
    big = _handbook(tmp_path / "onboarding.md")
    first = cluster.upload("onboarding.md", big.read_bytes())
    others = [
        cluster.upload(f"note-{n}.md", f"# Note {n}\n\nThe canteen opens at {n + 7}.\n".encode())
        for n in range(3)
    ]
    cluster.wait(first.job_id, until=RUNNING, timeout_s=120)
    time.sleep(1.0)
    assert cluster.jobs.get(first.job_id).status is JobStatus.RUNNING
    cluster.kill("w-1")

    # The replacement comes back under another name (a new container) on the same index.
    cluster.start("w-2", index_of="w-1")
    resumed = cluster.done(first.job_id)
    rest = [cluster.done(job.job_id) for job in others]
    assert (resumed.outcome, resumed.attempts) == ("added", 2)
    assert [(j.outcome, j.attempts, j.chunk_count) for j in rest] == [("added", 1, 1)] * 3
    cluster.stop("w-2")

    # Another restart under yet another name finds nothing to run again.
    before = {j.job_id: j for j in cluster.jobs.list_jobs()}
    cluster.start("w-3", index_of="w-1")
    time.sleep(3 * LEASE_S)
    cluster.stop("w-3")
    assert {j.job_id: j for j in cluster.jobs.list_jobs()} == before
    assert cluster.jobs.count_by_status()[JobStatus.DONE] == 4

    counts, versions = _index_counts(cluster.index_path("w-1"))
    registry = DocumentRegistry(cluster.url)
    try:
        documents = {d.doc_id: d.chunk_count for d in registry.list_documents()}
    finally:
        registry.close()
    expected = _expected_chunks(big)
    assert counts == documents  # no duplicates of the killed attempt, no leftovers
    assert counts[first.doc_id] == resumed.chunk_count == expected
    assert versions == {1}
