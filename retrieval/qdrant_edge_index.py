"""``VectorIndex`` over qdrant-edge: Qdrant's engine in-process, persisted in a directory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import IndexStoreError, StoreLockedError
from core.models import Acl, Chunk
from retrieval.index import (
    DATETIME_FIELDS,
    DENSE_VECTOR,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
    IndexedChunk,
    chunk_from_payload,
    chunk_payload,
)
from retrieval.qdrant_edge_query import edge_filter, edge_request
from retrieval.query import AccessScope, ScoredChunk, SearchFilters, VectorQuery
from retrieval.store_lock import StoreLock

if TYPE_CHECKING:
    import qdrant_edge

log = logging.getLogger(__name__)

_SCROLL_PAGE = 1024
_FACET_LIMIT = 1_000_000


class QdrantEdgeIndex:
    """Chunks in a qdrant-edge shard: a named dense vector, a named BM25 sparse vector with
    IDF, and keyword payload indexes on the document id, ACL and tenant fields."""

    def __init__(
        self, path: Path, *, dimension: int, hnsw_m: int = 16, hnsw_ef_construct: int = 100
    ) -> None:
        self._path = path
        self._dimension = dimension
        self._hnsw_m = hnsw_m
        self._hnsw_ef_construct = hnsw_ef_construct
        self._lock = StoreLock(path)
        self._shard: qdrant_edge.EdgeShard | None = None

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> QdrantEdgeIndex:
        """Take the store lock, then open the shard (creating it on first use)."""
        import qdrant_edge as qe

        self._lock.acquire()
        try:
            if self._path.is_dir() and any(self._path.iterdir()):
                self._shard = qe.EdgeShard.load(str(self._path))
            else:
                self._shard = qe.EdgeShard.create(str(self._path), self._config())
            # Idempotent, and run on every open so a store from an older release gains the
            # indexes that newer filters rely on.
            schema = [(f, qe.PayloadSchemaType.Keyword) for f in KEYWORD_FIELDS]
            schema += [(f, qe.PayloadSchemaType.Datetime) for f in DATETIME_FIELDS]
            for field, kind in schema:
                self._shard.update(qe.UpdateOperation.create_field_index(field, kind))
        except Exception as e:
            self._lock.release()
            if "WouldBlock" in str(e):
                raise StoreLockedError(
                    f"the index at {self._path} is already open in this process"
                ) from e
            raise IndexStoreError(f"cannot open the index at {self._path}: {e}") from e
        return self

    def _config(self) -> qdrant_edge.EdgeConfig:
        import qdrant_edge as qe

        return qe.EdgeConfig(
            vectors={
                DENSE_VECTOR: qe.EdgeVectorParams(size=self._dimension, distance=qe.Distance.Cosine)
            },
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(
                m=self._hnsw_m, ef_construct=self._hnsw_ef_construct, full_scan_threshold=10_000
            ),
        )

    def __enter__(self) -> QdrantEdgeIndex:
        return self.open() if self._shard is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shard(self) -> qdrant_edge.EdgeShard:
        """The open shard (for search adapters in this package)."""
        if self._shard is None:
            raise IndexStoreError("the index is not open; call open() first")
        return self._shard

    def flush(self) -> None:
        """Write pending changes to disk."""
        self.shard.flush()

    def optimize(self) -> None:
        """Build HNSW and merge segments; search is exact until this runs."""
        self.shard.optimize()

    def close(self) -> None:
        """Flush, close the shard and release the lock (idempotent)."""
        if self._shard is not None:
            try:
                self._shard.flush()
                self._shard.close()
            finally:
                self._shard = None
                self._lock.release()

    # -- writes -----------------------------------------------------------------------------

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        """Write points; the same chunk id overwrites."""
        import qdrant_edge as qe

        if not points:
            return
        edge_points = [
            qe.Point(
                p.chunk.chunk_id,
                {
                    DENSE_VECTOR: p.dense,
                    SPARSE_VECTOR: qe.SparseVector(list(p.sparse.indices), list(p.sparse.values)),
                },
                chunk_payload(p.chunk),
            )
            for p in points
        ]
        self._apply(qe.UpdateOperation.upsert_points(edge_points))

    def delete_document(self, doc_id: str, *, keep_version: int | None = None) -> None:
        """Delete a document's chunks, optionally keeping one version."""
        import qdrant_edge as qe

        filter_ = qe.Filter(must=[_match("doc_id", doc_id)])
        if keep_version is not None:
            filter_ = qe.Filter(
                must=[_match("doc_id", doc_id)], must_not=[_match("version", keep_version)]
            )
        self._apply(qe.UpdateOperation.delete_points_by_filter(filter_))

    def delete_document_version(self, doc_id: str, version: int) -> None:
        """Delete one version's chunks."""
        import qdrant_edge as qe

        filter_ = qe.Filter(must=[_match("doc_id", doc_id), _match("version", version)])
        self._apply(qe.UpdateOperation.delete_points_by_filter(filter_))

    def set_acl(self, doc_id: str, acl: Acl) -> None:
        """Rewrite the ACL fields of every chunk of a document; vectors are untouched."""
        import qdrant_edge as qe

        payload = {"acl_users": list(acl.users), "acl_groups": list(acl.groups)}
        operation = qe.UpdateOperation.set_payload_by_filter(
            qe.Filter(must=[_match("doc_id", doc_id)]), payload
        )
        self._apply(operation)

    def _apply(self, operation: qdrant_edge.UpdateOperation) -> None:
        try:
            self.shard.update(operation)
        except IndexStoreError:
            raise
        except Exception as e:
            raise IndexStoreError(f"index write failed: {e}", retryable=True) from e

    # -- reads ------------------------------------------------------------------------------

    def count(self, doc_id: str | None = None) -> int:
        """Exact count of chunks, of one document or all."""
        import qdrant_edge as qe

        filter_ = qe.Filter(must=[_match("doc_id", doc_id)]) if doc_id else None
        return self.shard.count(qe.CountRequest(exact=True, filter=filter_))

    def document_ids(self) -> set[str]:
        """Distinct document ids present in the index (a facet over the keyword index)."""
        import qdrant_edge as qe

        response = self.shard.facet(qe.FacetRequest("doc_id", limit=_FACET_LIMIT, exact=True))
        # An exact facet still lists values whose points were all deleted, with count 0.
        return {str(hit.value) for hit in response.hits if hit.count > 0}

    def get_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks, ordered by ordinal."""
        import qdrant_edge as qe

        chunks: list[Chunk] = []
        offset: Any = None
        while True:
            records, offset = self.shard.scroll(
                qe.ScrollRequest(
                    filter=qe.Filter(must=[_match("doc_id", doc_id)]),
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=True,
                )
            )
            chunks.extend(chunk_from_payload(str(r.id), r.payload or {}) for r in records)
            if offset is None:
                break
        return sorted(chunks, key=lambda c: (c.version, c.ordinal))

    # -- search -----------------------------------------------------------------------------

    def search(
        self, query: VectorQuery, scope: AccessScope, filters: SearchFilters
    ) -> list[ScoredChunk]:
        """Dense, sparse or fused hybrid search; scope and filters apply in every branch."""
        try:
            points = self.shard.query(edge_request(query, scope, filters))
        except IndexStoreError:
            raise
        except Exception as e:
            raise IndexStoreError(f"search failed: {e}") from e
        return [
            ScoredChunk(chunk=chunk_from_payload(str(p.id), p.payload or {}), score=p.score)
            for p in points
        ]

    def fetch(self, chunk_ids: Sequence[str], scope: AccessScope) -> list[Chunk]:
        """Chunks by id, through the same access filter as search."""
        import qdrant_edge as qe

        if not chunk_ids:
            return []
        access = edge_filter(scope, SearchFilters())
        request = qe.ScrollRequest(
            filter=qe.Filter(must=[qe.HasIdCondition(set(chunk_ids)), access]),
            limit=len(chunk_ids),
            with_payload=True,
        )
        records, _ = self.shard.scroll(request)
        return [chunk_from_payload(str(r.id), r.payload or {}) for r in records]


def _match(key: str, value: str | int) -> qdrant_edge.FieldCondition:
    import qdrant_edge as qe

    return qe.FieldCondition(key=key, match=qe.MatchValue(value))
