"""The registry on real SQLite, and on the local PostgreSQL server when it is reachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.errors import NotFoundError
from core.models import Acl, DocumentStatus
from ingest.registry import DocumentRegistry


@pytest.fixture
def registry(database_url: str) -> Iterator[DocumentRegistry]:
    reg = DocumentRegistry(database_url)
    yield reg
    reg.close()


def commit(registry: DocumentRegistry, doc_id: str, version: int, content_hash: str) -> None:
    registry.commit_version(
        doc_id,
        version=version,
        content_hash=content_hash,
        pipeline="p1",
        title="T",
        acl=Acl(groups=("public",)),
        tenant=None,
        chunk_count=3,
    )


def test_version_life_cycle(registry: DocumentRegistry) -> None:
    assert registry.state("d1") is None
    assert registry.begin_version("d1", "file:///a.md", file_type="md") == 1
    commit(registry, "d1", 1, "h1")
    state = registry.state("d1")
    assert state is not None and state.is_current("h1", "p1")
    assert not state.is_current("h2", "p1") and not state.is_current("h1", "p2")
    assert registry.begin_version("d1", "file:///a.md", file_type="md") == 2
    commit(registry, "d1", 2, "h2")
    doc = registry.get("d1")
    assert (doc.version, doc.status, doc.chunk_count) == (2, DocumentStatus.INDEXED, 3)
    assert [e for _, e, _ in registry.events("d1")] == ["indexing", "indexed"] * 2


def test_a_crashed_version_is_reused_not_skipped(registry: DocumentRegistry) -> None:
    assert registry.begin_version("d1", "file:///a.md", file_type="md") == 1
    # crash: never committed; the next attempt must write the same version (same chunk ids)
    assert registry.begin_version("d1", "file:///a.md", file_type="md") == 1
    state = registry.state("d1")
    assert state is not None and state.status is DocumentStatus.INDEXING
    assert not state.is_current("", "")


def test_failure_keeps_the_last_good_version(registry: DocumentRegistry) -> None:
    registry.begin_version("d1", "file:///a.md", file_type="md")
    commit(registry, "d1", 1, "h1")
    registry.mark_failed("d1", "file:///a.md", "corrupt PDF: EOF marker not found", file_type="md")
    doc = registry.get("d1")
    assert doc.status is DocumentStatus.FAILED and doc.version == 1
    assert doc.error == "corrupt PDF: EOF marker not found"


def test_delete_acl_and_listing(registry: DocumentRegistry) -> None:
    for n, uri in enumerate(["file:///r/a.md", "file:///r/b.md", "file:///r_x/c.md"]):
        registry.begin_version(f"d{n}", uri, file_type="md")
        commit(registry, f"d{n}", 1, "h")
    assert [d.doc_id for d in registry.list_documents(uri_prefix="file:///r/")] == ["d0", "d1"]
    registry.set_acl("d0", Acl(users=("alice",)))
    assert registry.get("d0").acl == Acl(users=("alice",))
    registry.mark_deleting("d1")
    assert registry.get("d1").status is DocumentStatus.DELETING
    registry.remove("d1")
    with pytest.raises(NotFoundError):
        registry.get("d1")
    assert registry.document_ids() == {"d0", "d2"}
