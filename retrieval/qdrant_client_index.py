"""``VectorIndex`` over qdrant-client: a Qdrant server (or cluster), or the client's local mode.

The collection mirrors the qdrant-edge shard: a named cosine dense vector, a named BM25 sparse
vector with the IDF modifier, and keyword / datetime payload indexes on the fields every
filter uses. Local mode (``":memory:"`` or a directory) speaks the same API, brute force, so
the contract tests can hold this adapter to the qdrant-edge one without a server.
"""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import CitewiseError, ConfigError, IndexStoreError, StoreLockedError
from core.logging import fields
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
from retrieval.qdrant_client_query import client_filter, client_query, match_value
from retrieval.query import AccessScope, ScoredChunk, SearchFilters, VectorQuery
from retrieval.store_lock import StoreLock

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models

log = logging.getLogger(__name__)

MEMORY = ":memory:"
_UPSERT_BATCH = 256
_SCROLL_PAGE = 1024
_FACET_LIMIT = 1_000_000
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_OPTIMIZE_TIMEOUT_S = 600.0


class QdrantClientIndex:
    """Chunks in a Qdrant collection reached through qdrant-client.

    Give ``location`` (a server URL such as ``http://host:6333``, or ``":memory:"``) or
    ``path`` (qdrant-client's local mode, persisted in a directory; one process at a time).
    """

    def __init__(
        self,
        *,
        location: str | None = None,
        path: Path | None = None,
        api_key: str | None = None,
        collection: str = "citewise",
        dimension: int,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        timeout: int | None = None,
    ) -> None:
        if (location is None) == (path is None):
            raise ConfigError("QdrantClientIndex needs exactly one of location and path")
        self._location = location
        self._path = path
        self._api_key = api_key
        self._collection = collection
        self._dimension = dimension
        self._hnsw_m = hnsw_m
        self._hnsw_ef_construct = hnsw_ef_construct
        self._timeout = timeout
        self._lock = StoreLock(path) if path is not None else None
        self._client: QdrantClient | None = None

    @property
    def _where(self) -> str:
        return f"{self._location or self._path} (collection {self._collection!r})"

    @property
    def is_local(self) -> bool:
        """True in qdrant-client's local mode (in memory or a directory), not a server."""
        return self._path is not None or self._location == MEMORY

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> QdrantClientIndex:
        """Connect (taking the directory lock in local on-disk mode), then create the
        collection and its payload indexes where they are missing."""
        from qdrant_client import QdrantClient

        if self._lock is not None:
            self._lock.acquire()
        try:
            with _translated(f"cannot open the index at {self._where}"):
                if self._path is not None:
                    self._client = QdrantClient(path=str(self._path))
                elif self._location == MEMORY:
                    self._client = QdrantClient(location=MEMORY)
                else:
                    self._client = QdrantClient(
                        url=self._location,
                        api_key=self._api_key,
                        timeout=self._timeout,
                        check_compatibility=False,  # done below, in this thread
                    )
                    self._check_server_version()
                self._ensure_collection()
        except BaseException:
            self._release()
            raise
        return self

    def _ensure_collection(self) -> None:
        from qdrant_client import models
        from qdrant_client.http.exceptions import UnexpectedResponse

        client = self.client
        if not client.collection_exists(self._collection):
            try:
                client.create_collection(
                    self._collection,
                    vectors_config={
                        DENSE_VECTOR: models.VectorParams(
                            size=self._dimension, distance=models.Distance.COSINE
                        )
                    },
                    sparse_vectors_config={
                        SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                    hnsw_config=models.HnswConfigDiff(
                        m=self._hnsw_m, ef_construct=self._hnsw_ef_construct
                    ),
                )
            except UnexpectedResponse as e:
                if e.status_code != 409:  # 409: another process created it first
                    raise
        self._check_dimension()
        # Idempotent, and issued on every open so a collection from an older release gains the
        # indexes that newer filters rely on. Local mode ignores them (and says so; hush it).
        schema = [(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS]
        schema += [(f, models.PayloadSchemaType.DATETIME) for f in DATETIME_FIELDS]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field, kind in schema:
                client.create_payload_index(self._collection, field, kind, wait=True)

    def _check_server_version(self) -> None:
        """Warn when the server's version is too far from the client's (the client's own
        check runs in a thread and only warns; this one also fails fast when unreachable)."""
        from importlib.metadata import version

        from qdrant_client.common.version_check import is_compatible

        server, client = self.client.info().version, version("qdrant-client")
        if not is_compatible(client, server):
            log.warning(
                "qdrant server and client versions differ too much",
                extra=fields(server=server, client=client),
            )

    def _check_dimension(self) -> None:
        vectors = self.client.get_collection(self._collection).config.params.vectors
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        if dense is None or dense.size != self._dimension:
            found = dense.size if dense is not None else "no dense vector"
            raise ConfigError(
                f"the index at {self._where} does not fit this model: expected a "
                f"{self._dimension}-d {DENSE_VECTOR!r} vector, found {found}"
            )

    def __enter__(self) -> QdrantClientIndex:
        return self.open() if self._client is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> QdrantClient:
        """The open client."""
        if self._client is None:
            raise IndexStoreError("the index is not open; call open() first")
        return self._client

    def flush(self) -> None:
        """Nothing to do: every write waits for the server (or local mode) to apply it."""

    def optimize(self) -> None:
        """Wait until the server has finished indexing (HNSW is built in the background once a
        segment passes the indexing threshold); a no-op in local mode, which is brute force."""
        if self.is_local:
            return
        from qdrant_client import models

        deadline = time.monotonic() + _OPTIMIZE_TIMEOUT_S
        with _translated("waiting for the index to optimize failed"):
            while (
                self.client.get_collection(self._collection).status != models.CollectionStatus.GREEN
            ):
                if time.monotonic() > deadline:
                    log.warning("index still optimizing", extra=fields(collection=self._collection))
                    return
                time.sleep(0.5)

    def close(self) -> None:
        """Close the client and release the lock (idempotent)."""
        self._release()

    def _release(self) -> None:
        client, self._client = self._client, None
        try:
            if client is not None:
                client.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    # -- writes -----------------------------------------------------------------------------

    def upsert(self, points: Sequence[IndexedChunk]) -> None:
        """Write points (the chunk id, a UUID, is the point id: the same chunk overwrites)."""
        from qdrant_client import models

        for start in range(0, len(points), _UPSERT_BATCH):
            batch = [
                models.PointStruct(
                    id=p.chunk.chunk_id,
                    vector={
                        DENSE_VECTOR: p.dense,
                        SPARSE_VECTOR: models.SparseVector(
                            indices=list(p.sparse.indices), values=list(p.sparse.values)
                        ),
                    },
                    payload=chunk_payload(p.chunk),
                )
                for p in points[start : start + _UPSERT_BATCH]
            ]
            with _translated("index write failed"):
                self.client.upsert(self._collection, batch, wait=True)

    def delete_document(self, doc_id: str, *, keep_version: int | None = None) -> None:
        """Delete a document's chunks, optionally keeping one version."""
        from qdrant_client import models

        keep = [match_value("version", keep_version)] if keep_version is not None else None
        self._delete(models.Filter(must=[match_value("doc_id", doc_id)], must_not=keep))

    def delete_document_version(self, doc_id: str, version: int) -> None:
        """Delete one version's chunks."""
        from qdrant_client import models

        self._delete(
            models.Filter(must=[match_value("doc_id", doc_id), match_value("version", version)])
        )

    def _delete(self, filter_: models.Filter) -> None:
        from qdrant_client import models

        with _translated("index delete failed"):
            self.client.delete(self._collection, models.FilterSelector(filter=filter_), wait=True)

    def set_acl(self, doc_id: str, acl: Acl) -> None:
        """Rewrite the ACL fields of every chunk of a document; vectors are untouched."""
        from qdrant_client import models

        payload = {"acl_users": list(acl.users), "acl_groups": list(acl.groups)}
        selector = models.FilterSelector(filter=models.Filter(must=[match_value("doc_id", doc_id)]))
        with _translated("index ACL update failed"):
            self.client.set_payload(self._collection, payload, selector, wait=True)

    # -- reads ------------------------------------------------------------------------------

    def count(self, doc_id: str | None = None) -> int:
        """Exact count of chunks, of one document or all."""
        from qdrant_client import models

        filter_ = models.Filter(must=[match_value("doc_id", doc_id)]) if doc_id else None
        with _translated("index count failed"):
            return self.client.count(self._collection, filter_, exact=True).count

    def document_ids(self) -> set[str]:
        """Distinct document ids present in the index (a facet over the keyword index)."""
        with _translated("listing document ids failed"):
            response = self.client.facet(self._collection, "doc_id", limit=_FACET_LIMIT, exact=True)
        return {str(hit.value) for hit in response.hits if hit.count > 0}

    def get_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks, ordered by version and ordinal."""
        from qdrant_client import models

        filter_ = models.Filter(must=[match_value("doc_id", doc_id)])
        chunks = [chunk_from_payload(str(r.id), r.payload or {}) for r in self._scroll(filter_)]
        return sorted(chunks, key=lambda c: (c.version, c.ordinal))

    def _scroll(self, filter_: models.Filter, *, page: int = _SCROLL_PAGE) -> Iterator[Any]:
        offset: Any = None
        while True:
            with _translated("index scroll failed"):
                records, offset = self.client.scroll(
                    self._collection,
                    scroll_filter=filter_,
                    limit=page,
                    offset=offset,
                    with_payload=True,
                    with_vectors=False,
                )
            yield from records
            if offset is None:
                return

    # -- search -----------------------------------------------------------------------------

    def search(
        self, query: VectorQuery, scope: AccessScope, filters: SearchFilters
    ) -> list[ScoredChunk]:
        """Dense, sparse or fused hybrid search; scope and filters apply in every branch."""
        request = client_query(query, scope, filters)
        with _translated("search failed"):
            response = self.client.query_points(
                self._collection,
                query=request.query,
                using=request.using,
                prefetch=request.prefetch,
                query_filter=request.query_filter,
                # Local mode is brute force and warns that search parameters do nothing.
                search_params=None if self.is_local else request.search_params,
                limit=request.limit,
                with_payload=True,
                with_vectors=False,
            )
        return [
            ScoredChunk(chunk=chunk_from_payload(str(p.id), p.payload or {}), score=p.score)
            for p in response.points
        ]

    def fetch(self, chunk_ids: Sequence[str], scope: AccessScope) -> list[Chunk]:
        """Chunks by id, through the same access filter as search."""
        from qdrant_client import models

        ids = [i for i in dict.fromkeys(chunk_ids) if _is_uuid(i)]  # others cannot be stored
        if not ids:
            return []
        access = client_filter(scope, SearchFilters())
        filter_ = models.Filter(must=[models.HasIdCondition(has_id=list(ids)), access])
        records = self._scroll(filter_, page=len(ids))
        return [chunk_from_payload(str(r.id), r.payload or {}) for r in records]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn qdrant-client and transport exceptions into IndexStoreError (retryable when the
    failure is transient: no connection, a timeout, an overloaded or restarting server)."""
    try:
        yield
    except CitewiseError:
        raise
    except Exception as e:
        if "already accessed by another instance" in str(e):  # local mode's own folder lock
            raise StoreLockedError(f"{action}: {e}") from e
        raise IndexStoreError(f"{action}: {e}", retryable=_is_transient(e)) from e


def _is_transient(error: Exception) -> bool:
    import httpx
    from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(error, UnexpectedResponse):
        return error.status_code in _RETRYABLE_STATUS
    if isinstance(error, ResponseHandlingException):  # raised around the HTTP send itself
        return isinstance(error.source, httpx.TransportError)
    return isinstance(
        error, ResourceExhaustedResponse | httpx.TransportError | ConnectionError | TimeoutError
    )
