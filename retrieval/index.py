"""The ``VectorIndex`` interface: what ingestion and search need from a vector store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from core.models import Acl, Chunk
from retrieval.filters import PATH_PREFIXES, path_prefixes
from retrieval.query import AccessScope, ScoredChunk, SearchFilters, VectorQuery
from retrieval.sparse import SparseVector

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
KEYWORD_FIELDS = ("doc_id", "acl_users", "acl_groups", "tenant", "file_type", PATH_PREFIXES)
"""Payload fields with a keyword index: the filters every search and every purge uses."""
DATETIME_FIELDS = ("modified_at",)
"""Payload fields with a datetime index (range filters)."""
_DERIVED_FIELDS = ("acl_users", "acl_groups", PATH_PREFIXES)


class IndexedChunk(BaseModel):
    """A chunk with its vectors, ready to be written."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    dense: list[float]
    sparse: SparseVector


class VectorIndex(Protocol):
    """A store of chunk vectors and payloads that can be kept in sync with the registry."""

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        """Insert or overwrite points (ids are deterministic, so a retry rewrites the same ones)."""
        ...

    def delete_document(self, doc_id: str, *, keep_version: int | None = None) -> None:
        """Delete a document's chunks; with ``keep_version``, all but that version's."""
        ...

    def delete_document_version(self, doc_id: str, version: int) -> None:
        """Delete the chunks of one version of a document (the leftovers of a crashed write)."""
        ...

    def set_acl(self, doc_id: str, acl: Acl) -> None:
        """Change the ACL stored on a document's chunks without re-embedding them."""
        ...

    def count(self, doc_id: str | None = None) -> int:
        """Count chunks, of one document or of the whole index."""
        ...

    def document_ids(self) -> set[str]:
        """Every document id that has at least one chunk (to find orphans)."""
        ...

    def get_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's stored chunks, in ordinal order."""
        ...

    def search(
        self, query: VectorQuery, scope: AccessScope, filters: SearchFilters
    ) -> list[ScoredChunk]:
        """The best chunks for the query among those the scope may read, best first.

        The access scope and the filters apply inside the query (to every prefetch branch of a
        hybrid query), so a result list is never shortened or leaked by filtering afterwards.
        """
        ...

    def fetch(self, chunk_ids: Sequence[str], scope: AccessScope) -> list[Chunk]:
        """The chunks with these ids that the scope may read (missing ids are skipped)."""
        ...

    def flush(self) -> None:
        """Make every write durable."""
        ...

    def optimize(self) -> None:
        """Build search structures (HNSW) after a bulk load."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    """The payload stored with a chunk: its fields, with the ACL flattened into indexed lists."""
    payload = chunk.model_dump(mode="json", exclude={"acl", "chunk_id"})
    payload["acl_users"] = list(chunk.acl.users)
    payload["acl_groups"] = list(chunk.acl.groups)
    payload[PATH_PREFIXES] = path_prefixes(chunk.source_uri)
    return payload


def chunk_from_payload(chunk_id: str, payload: dict[str, Any]) -> Chunk:
    """Rebuild a Chunk from a stored payload."""
    data = {k: v for k, v in payload.items() if k not in _DERIVED_FIELDS}
    acl = Acl(
        users=tuple(payload.get("acl_users", ())), groups=tuple(payload.get("acl_groups", ()))
    )
    return Chunk(chunk_id=chunk_id, acl=acl, **data)
