"""Both embedding backends, on the real shipped MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api import composition
from core.settings import Settings
from tests.conftest import SAMPLE_CORPUS

pytestmark = pytest.mark.model

TEXTS = [
    "Employees accrue 1.75 days of paid vacation per month.",
    "Report security incidents to security@northwind.example within 1 hour.",
    "The IT help desk is at extension 4357.",
    (SAMPLE_CORPUS / "policies" / "leave-policy.md").read_text(),  # longer than the window
    "x",
]


def test_torch_backend_gives_unit_vectors_and_separates_topics(tmp_path: Path) -> None:
    embedder = composition.build_embedder(
        Settings.load(data_dir=tmp_path, embedding={"backend": "torch"})
    )
    vectors = np.array(embedder.embed_documents(TEXTS))
    assert vectors.shape == (5, embedder.dimension) == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    query = np.array(embedder.embed_query("how many vacation days do I get"))
    assert int(np.argmax(vectors[:3] @ query)) == 0


def test_onnx_int8_backend_matches_torch(tmp_path: Path) -> None:
    torch_vectors = np.array(
        composition.build_embedder(
            Settings.load(data_dir=tmp_path, embedding={"backend": "torch"})
        ).embed_documents(TEXTS)
    )
    cache = tmp_path / "cache"
    settings = Settings.load(
        data_dir=tmp_path, embedding={"backend": "onnx-int8", "cache_dir": cache}
    )
    onnx = composition.build_embedder(settings)
    onnx_vectors = np.array(onnx.embed_documents(TEXTS))
    assert len(list(cache.glob("*-int8.onnx"))) == 1, "the export is cached"
    assert not list(cache.glob("*.tmp")) and not list(cache.glob("*.fp32.onnx"))
    cosines = (torch_vectors * onnx_vectors).sum(axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985
    # order does not change results (length-sorted batching is undone)
    assert np.allclose(onnx.embed_documents(TEXTS[::-1])[::-1], onnx_vectors, atol=1e-5)
    # a second embedder reuses the cached export; int8 activations are quantized per batch,
    # so a text embedded alone differs slightly from the same text in a batch
    again = np.array(composition.build_embedder(settings).embed_documents(TEXTS[:1]))
    assert float(again[0] @ onnx_vectors[0]) > 0.99
