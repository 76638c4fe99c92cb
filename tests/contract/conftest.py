"""Both ``VectorIndex`` adapters, opened on empty stores: qdrant-edge in a temporary directory
and qdrant-client's local mode (in memory, or on disk for the persistence checks)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from tests.contract.helpers import DIM

Adapter = QdrantEdgeIndex | QdrantClientIndex
ADAPTERS = ("qdrant-edge", "qdrant-client")
SHM = Path("/dev/shm")


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for on-disk stores: in shared memory where there is one (creating a
    qdrant-edge shard fsyncs; on a real disk that alone costs about a second per test)."""
    if not SHM.is_dir():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="citewise-contract-", dir=SHM))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_adapter(kind: str, tmp: Path, *, dimension: int = DIM) -> Adapter:
    """An unopened adapter of ``kind``; ``qdrant-client-disk`` is local mode in a directory."""
    if kind == "qdrant-edge":
        return QdrantEdgeIndex(tmp / "edge", dimension=dimension)
    if kind == "qdrant-client":
        return QdrantClientIndex(location=":memory:", collection="contract", dimension=dimension)
    if kind == "qdrant-client-disk":
        return QdrantClientIndex(path=tmp / "client", collection="contract", dimension=dimension)
    raise ValueError(kind)


@pytest.fixture(params=ADAPTERS)
def index(request: pytest.FixtureRequest, store_dir: Path) -> Iterator[Adapter]:
    """Each adapter in turn, open on an empty store."""
    with new_adapter(request.param, store_dir).open() as opened:
        yield opened


@pytest.fixture
def both(store_dir: Path) -> Iterator[tuple[Adapter, Adapter]]:
    """Both adapters at once (edge, client), for tests that compare their answers."""
    with (
        new_adapter("qdrant-edge", store_dir).open() as edge,
        new_adapter("qdrant-client", store_dir).open() as client,
    ):
        yield edge, client


@pytest.fixture
def open_both(store_dir: Path) -> Iterator[Callable[[int], tuple[Adapter, Adapter]]]:
    """Open both adapters for another dimension (closed at teardown)."""
    opened: list[Adapter] = []

    def make(dimension: int) -> tuple[Adapter, Adapter]:
        edge = new_adapter("qdrant-edge", store_dir, dimension=dimension).open()
        opened.append(edge)
        client = new_adapter("qdrant-client", store_dir, dimension=dimension).open()
        opened.append(client)
        return edge, client

    yield make
    for adapter in opened:
        adapter.close()
