"""``citewise eval retrieval`` end to end on a SciFact slice: the real ingestion pipeline,
MiniLM, BM25 and qdrant-edge (skipped when ../shared/data holds no SciFact)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli.main import app

pytestmark = [pytest.mark.model, pytest.mark.shared_data, pytest.mark.slow]

QUERIES = 20
DOCUMENTS = 100


def run_eval(shared: Path, data_dir: Path, out: Path) -> dict[str, Any]:
    args = [
        "eval", "retrieval", "--dataset", "scifact",
        "--limit", str(QUERIES), "--limit-docs", str(DOCUMENTS),
        "--data-dir", str(data_dir), "--out", str(out),
    ]  # fmt: skip
    env = {"CITEWISE_SHARED_DATA": str(shared), "CITEWISE_INGEST__WORKERS": "0"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.output and "hybrid" in result.output
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_scifact_slice_dense_sparse_hybrid(shared_data: Path, tmp_path: Path) -> None:
    if not (shared_data / "scifact" / "scifact.zip").is_file():
        pytest.skip(f"no SciFact under {shared_data}")
    first = run_eval(shared_data, tmp_path / "eval", tmp_path / "first.json")
    assert first["corpus_documents"] == DOCUMENTS and first["queries"] == QUERIES
    index = first["index"]
    assert index["documents"] == DOCUMENTS and index["chunks"] >= DOCUMENTS
    assert index["ingest"]["added"] == DOCUMENTS
    modes = first["modes"]
    assert list(modes) == ["dense", "sparse", "hybrid"]
    for mode, result in modes.items():
        metrics = result["metrics"]
        assert set(metrics) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        # Every gold document is in a 100-abstract slice: any mode that maps chunks to the
        # right documents ranks most of them first (the full corpus scores 0.65-0.73).
        assert metrics["ndcg@10"] > 0.7, (mode, metrics)
        assert metrics["recall@100"] >= 0.9, (mode, metrics)
        assert len(result["per_query"]["ndcg@10"]) == QUERIES
        low, high = result["bootstrap_95"]["ndcg@10"]
        assert low <= metrics["ndcg@10"] <= high

    # A rerun re-ingests nothing and ranks the same way.
    second = run_eval(shared_data, tmp_path / "eval", tmp_path / "second.json")
    assert second["index"]["ingest"]["unchanged"] == DOCUMENTS
    assert second["index"]["ingest"]["added"] == 0
    for mode in ("dense", "sparse", "hybrid"):
        assert second["modes"][mode]["metrics"] == pytest.approx(modes[mode]["metrics"])
