"""``citewise serve`` in a real process, killed mid-job and restarted: its ingestion jobs resume
and complete without duplicate chunks (the real parser, MiniLM, qdrant-edge, SQLite, 0.5B)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.composition import build_parser
from core.ids import document_id
from core.models import Acl
from core.settings import Settings
from ingest.job_store import JobStore
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import LocalUploadStaging
from retrieval.embedder import MINILM_DIMENSION
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from store.key_store import ApiKeyStore
from tests.live_server import citewise_serve, free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]


@contextmanager
def serving(data_dir: Path, model: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CITEWISE_DATA_DIR": str(data_dir),
        "CITEWISE_LLM__MODEL": str(model),
        "CITEWISE_INGEST__EMBED_GROUP": "16",  # write in several steps: more places to die
    }
    env.pop("CITEWISE_CONFIG", None)
    with citewise_serve(env, port=port, timeout_s=180) as (process, _):
        yield process


def long_handbook(path: Path) -> Path:
    sections = [
        f"## Procedure {n}\n\nStep {n} of the onboarding checklist asks the new hire to "
        f"confirm item {n} with the facilities team, file form F-{n:03d} and keep the receipt "
        f"for audit; the manager signs off within {n % 7 + 1} working days.\n"
        for n in range(400)
    ]
    path.write_text("# Onboarding procedures\n\n" + "\n".join(sections), encoding="utf-8")
    return path


def test_a_killed_server_resumes_its_jobs_without_duplicates(
    tmp_path: Path, small_gguf: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data)
    keys = ApiKeyStore(settings.registry_url)
    token = keys.create("ada", ["admins"])[1]
    keys.close()
    headers = {"Authorization": f"Bearer {token}"}
    big = long_handbook(tmp_path / "onboarding.md")
    small = b"# Lockers\n\nLockers are assigned by the front desk on the first day.\n"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    with serving(data, small_gguf, port) as server:
        with big.open("rb") as f:
            first = httpx.post(f"{url}/v1/documents", files={"file": f}, headers=headers).json()
        second = httpx.post(
            f"{url}/v1/documents", files={"file": ("lockers.md", small)}, headers=headers
        ).json()
        deadline = time.monotonic() + 120
        status = "queued"
        while status == "queued" and time.monotonic() < deadline:
            status = httpx.get(f"{url}/v1/jobs/{first['job_id']}", headers=headers).json()["status"]
            time.sleep(0.05)
        time.sleep(1.0)  # into parsing and embedding
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert status == "running", "the kill must land while the job runs"

    with serving(data, small_gguf, port):
        jobs = {}
        for job_id in (first["job_id"], second["job_id"]):
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.3)
            jobs[job_id] = job
        documents = httpx.get(f"{url}/v1/documents", headers=headers).json()["documents"]

    resumed, queued = jobs[first["job_id"]], jobs[second["job_id"]]
    assert (resumed["status"], resumed["outcome"], resumed["attempts"]) == ("done", "added", 2)
    assert (queued["status"], queued["attempts"]) == ("done", 1)
    expected = len(build_parser(settings).process(big).passages)
    assert resumed["chunk_count"] == expected > 100
    by_id = {d["doc_id"]: d for d in documents}
    assert by_id[resumed["doc_id"]]["chunk_count"] == expected
    with QdrantEdgeIndex(settings.index_path, dimension=MINILM_DIMENSION) as index:
        assert index.count(resumed["doc_id"]) == expected  # no duplicates, no leftovers
        assert index.count(queued["doc_id"]) == queued["chunk_count"]
        assert index.document_ids() == set(by_id)
    assert not list((data / "uploads").glob("*/*")), "staged uploads are removed when done"


def test_a_separate_worker_runs_queued_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data)
    # What the API does on an upload, here without an API: stage the file, queue the job.
    staging = LocalUploadStaging(data / "uploads", max_bytes=10**6, sniff=sniff_extension)
    staged = staging.stage(io.BytesIO(b"# Lockers\n\nLockers open with your badge.\n"), "l.md")
    jobs = JobStore(settings.registry_url)
    job = jobs.submit_upload(
        doc_id=document_id(staged.source_uri),
        source_uri=staged.source_uri,
        filename=staged.display_name,
        file_type="md",
        size_bytes=staged.size_bytes,
        staged_ref=staged.ref,
        acl=Acl(groups=("public",)),
        submitted_by="ada",
    )
    heartbeat = tmp_path / "heartbeat"
    env = {**os.environ, "CITEWISE_DATA_DIR": str(data)}
    env.pop("CITEWISE_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--heartbeat", str(heartbeat)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while jobs.get(job.job_id).status.value not in ("done", "failed"):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        assert heartbeat.exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finished = jobs.get(job.job_id)
    jobs.close()
    assert process.returncode == 0, stderr
    assert "ready" in stderr
    assert (finished.status.value, finished.outcome, finished.chunk_count) == ("done", "added", 1)
    with QdrantEdgeIndex(settings.index_path, dimension=MINILM_DIMENSION) as index:
        assert index.count(finished.doc_id) == 1
