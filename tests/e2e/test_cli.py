"""The ``citewise`` console script in real subprocesses: ingest, docs, locking, crash recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.registry import DocumentRegistry
from retrieval.embedder import MINILM_DIMENSION
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from tests.conftest import SAMPLE_ACL, SAMPLE_CORPUS

pytestmark = [pytest.mark.model, pytest.mark.slow]

CITEWISE = [sys.executable, "-m", "api.cli"]


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITEWISE_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [*CITEWISE, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def ingest_json(data_dir: Path, *args: str) -> dict[str, object]:
    result = run(data_dir, "ingest", *args, "--json", check=False)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def index_counts(data_dir: Path) -> dict[str, int]:
    settings = Settings.load(data_dir=data_dir)
    with QdrantEdgeIndex(settings.index_path, dimension=MINILM_DIMENSION) as index:
        return {doc: index.count(doc) for doc in index.document_ids()}


def test_ingest_then_docs_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = ingest_json(data, str(SAMPLE_CORPUS), "--acl", str(SAMPLE_ACL))
    assert (summary["added"], summary["failed"]) == (11, 0)
    human = run(data, "ingest", str(SAMPLE_CORPUS), "--acl", str(SAMPLE_ACL))
    assert "unchanged 11" in human.stdout and "0 chunks" in human.stdout
    listing = json.loads(run(data, "docs", "list", "--json").stdout)
    salary = next(d for d in listing if d["source_uri"].endswith("salary-bands.md"))
    assert salary["acl"]["groups"] == ["hr"] and salary["status"] == "indexed"
    shown = json.loads(run(data, "docs", "show", salary["doc_id"][:8], "--json").stdout)
    assert shown["chunks"] and all(c["doc_id"] == salary["doc_id"] for c in shown["chunks"])
    run(data, "docs", "set-acl", salary["doc_id"], "--group", "hr", "--user", "hannah")
    shown = json.loads(run(data, "docs", "show", salary["doc_id"], "--json").stdout)
    assert {tuple(c["acl"]["users"]) for c in shown["chunks"]} == {("hannah",)}
    assert [e["event"] for e in shown["events"]][-1] == "acl"

    question = "salary band for a senior software engineer"
    as_nobody = json.loads(run(data, "search", question, "--k", "20", "--json").stdout)
    assert as_nobody and all(not r["source_uri"].endswith("salary-bands.md") for r in as_nobody)
    as_hannah = json.loads(run(data, "search", question, "--user", "hannah", "--json").stdout)
    assert as_hannah[0]["doc_id"] == salary["doc_id"] and as_hannah[0]["snippet"]
    as_hr = run(data, "search", question, "--groups", "hr,finance", "--mode", "sparse", "--k", "2")
    assert "Salary Bands" in as_hr.stdout and "score" in as_hr.stdout
    ranks = [line.split(".")[0] for line in as_hr.stdout.splitlines() if line[:1].isdigit()]
    assert ranks == ["1", "2"]
    empty = run(data, "search", " ", check=False)
    assert empty.returncode == 2 and "empty" in empty.stdout + empty.stderr

    run(data, "docs", "rm", salary["doc_id"])
    assert salary["doc_id"] not in index_counts(data)
    missing = run(data, "docs", "show", "ffffffff", check=False)
    assert missing.returncode == 2 and "no document matches" in missing.stderr


def test_failures_set_a_nonzero_exit_code(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ok.md").write_text("# Parking\n\nParking costs $9 a day.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    result = run(tmp_path / "data", "ingest", str(folder), check=False)
    assert result.returncode == 1
    assert "added 1" in result.stdout and "failed 1" in result.stdout
    assert "broken.pdf: corrupt PDF" in result.stdout


def test_a_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.load(data_dir=data)
    with QdrantEdgeIndex(settings.index_path, dimension=MINILM_DIMENSION):
        result = run(data, "ingest", str(SAMPLE_CORPUS), check=False)
    assert result.returncode == 2
    assert f"in use by process {os.getpid()}" in result.stderr
    assert "Only one process may open it" in result.stderr


def test_a_killed_ingest_recovers_without_duplicates_or_orphans(tmp_path: Path) -> None:
    # A corpus big enough to kill mid-run: the sample corpus in several folders.
    corpus = tmp_path / "corpus"
    for n in range(6):
        shutil.copytree(SAMPLE_CORPUS, corpus / f"copy{n}")
    data = tmp_path / "killed"
    data.mkdir()
    registry = DocumentRegistry(Settings.load(data_dir=data).registry_url)
    env = {**os.environ, "CITEWISE_DATA_DIR": str(data), "CITEWISE_INGEST__EMBED_GROUP": "8"}
    process = subprocess.Popen(
        [*CITEWISE, "ingest", str(corpus)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait until some, not all, documents are indexed
        indexed = [d for d in registry.list_documents() if d.status.value == "indexed"]
        if len(indexed) >= 5 or process.poll() is not None:
            break
        time.sleep(0.2)
    workers = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    registry.close()
    assert 5 <= len(indexed) < 66, "the kill must land mid-run"
    assert workers, "the parser pool should be running"
    _wait_gone(workers)  # parser workers do not outlive a killed parent

    resumed = ingest_json(data, str(corpus))
    assert resumed["failed"] == 0
    clean = ingest_json(tmp_path / "clean", str(corpus))
    assert clean["added"] == 66
    assert index_counts(data) == index_counts(tmp_path / "clean")
    again = ingest_json(data, str(corpus))
    assert again["unchanged"] == 66 and again["chunks"] == 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def _wait_gone(pids: list[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [
            p
            for p in alive
            if Path(f"/proc/{p}").exists()
            and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()
        ]
        time.sleep(0.2)
    assert not alive, f"orphaned worker processes: {alive}"
