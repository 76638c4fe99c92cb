"""Issue 16, items 3 and 4, through the CLI's folder ingestion (``citewise ingest`` in a real
process, its parser in a worker process): a zip-bomb ``.docx`` and a 10,000-page blank PDF
fail cheaply with one-line reasons, the parser's memory stays under its limit, and the rest of
the batch is ingested. (The same files as API jobs: tests/integration/test_hardening_http.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.hostile_files import blank_pdf, zip_bomb_docx

pytestmark = [pytest.mark.model, pytest.mark.slow]

MEMORY_LIMIT_MB = 2500


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def test_bombs_and_page_floods_fail_cheaply_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    zip_bomb_docx(folder / "bomb.docx")
    blank_pdf(folder / "blank.pdf")
    (folder / "parking.md").write_text("# Parking\n\nParking costs $9 a day at the office.\n")
    env = {
        **os.environ,
        "CITEWISE_DATA_DIR": str(tmp_path / "data"),
        "CITEWISE_INGEST__WORKERS": "1",  # the parser in its own, limited process
        "CITEWISE_PARSING__PARSER_MEMORY_MB": str(MEMORY_LIMIT_MB),
    }
    env.pop("CITEWISE_CONFIG", None)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "ingest", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_kb = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_kb
        while not stop.is_set():
            for child in _descendants(process.pid):
                peak_kb = max(peak_kb, _rss_kb(child))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = process.communicate(timeout=300)
    finally:
        stop.set()
        watcher.join()
    elapsed = time.monotonic() - started
    assert process.returncode == 1, err  # failures set a nonzero exit code
    assert "added 1" in out and "failed 2" in out, out
    lines = out.splitlines()
    bomb = next(line for line in lines if "bomb.docx" in line and "limit" in line)
    pdf = next(line for line in lines if "blank.pdf" in line and "limit" in line)
    assert "parsing.max_unzipped_mb" in bomb and "parsing.max_pdf_pages" in pdf
    assert 0 < peak_kb / 1024 < MEMORY_LIMIT_MB, f"parser peaked at {peak_kb / 1024:.0f} MB"
    # Start-up (models) dominates; neither file is inflated, partitioned or OCRed.
    assert elapsed < 180, f"ingest took {elapsed:.0f} s"
