"""A slice of the real 18F handbook (../shared/data; skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import CountingEmbedder, Ingest

pytestmark = [pytest.mark.model, pytest.mark.shared_data, pytest.mark.slow]

SLICE = 40


def test_a_handbook_slice_ingests_cleanly_and_resyncs(
    shared_data: Path, tmp_path: Path, ingest: Ingest, counting: CountingEmbedder
) -> None:
    pages = sorted((shared_data / "handbook-18f" / "pages").rglob("*.md"))[:SLICE]
    if len(pages) < SLICE:
        pytest.skip("18F handbook incomplete")
    root = tmp_path / "handbook"
    for page in pages:
        target = root / page.relative_to(shared_data / "handbook-18f")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, target)
    first = ingest(root)
    empty = sum(1 for p in pages if p.stat().st_size == 0)
    assert (first.added, first.failed, first.skipped) == (SLICE - empty, 0, empty)
    assert first.embedded_tokens >= first.source_tokens  # nothing cut to fit the window
    counting.embedded = 0
    second = ingest(root)
    assert second.unchanged == SLICE - empty and counting.embedded == 0
