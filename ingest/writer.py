"""Turn processed documents into indexed chunks, following the crash-safe write order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.ids import chunk_id
from core.logging import fields
from core.models import Acl, Chunk, embedding_text
from ingest.document_parser import ParsedDocument
from ingest.registry import DocumentRegistry
from retrieval.embedder import Embedder, Vector
from retrieval.index import IndexedChunk, VectorIndex
from retrieval.sparse import SparseEncoder, SparseVector

log = logging.getLogger(__name__)

DocumentVectors = tuple[list[Vector], list[SparseVector]]


@dataclass(frozen=True)
class DocumentVersion:
    """A processed document with its vectors and identity, ready to be written."""

    doc_id: str
    source_uri: str
    content_hash: str
    pipeline_id: str
    acl: Acl
    tenant: str | None
    document: ParsedDocument
    modified_at: datetime | None
    dense: list[Vector]
    sparse: list[SparseVector]


class DocumentWriter:
    """Embeds passages and applies every change to the index and the registry in an order
    that a crash at any step cannot turn into duplicate or orphaned chunks."""

    def __init__(
        self,
        *,
        registry: DocumentRegistry,
        index: VectorIndex,
        embedder: Embedder,
        sparse: SparseEncoder,
    ) -> None:
        self._registry = registry
        self._index = index
        self._embedder = embedder
        self._sparse = sparse

    def warm_up(self) -> None:
        """Load the embedding model now."""
        self._embedder.warm_up()

    def embed(self, documents: Sequence[ParsedDocument]) -> list[DocumentVectors]:
        """Dense and sparse vectors for every passage, one embedder call for all documents."""
        texts = [
            embedding_text(doc.title, passage.section_path, passage.text)
            for doc in documents
            for passage in doc.passages
        ]
        dense = self._embedder.embed_documents(texts)
        sparse = [self._sparse.encode_document(text) for text in texts]
        out: list[DocumentVectors] = []
        start = 0
        for doc in documents:
            end = start + len(doc.passages)
            out.append((dense[start:end], sparse[start:end]))
            start = end
        return out

    def write(self, documents: Sequence[DocumentVersion]) -> list[int]:
        """Index a new version of each document and retire the old ones; chunk counts back.

        Order, per document: registry says 'indexing version v' → drop leftovers of an
        earlier crashed attempt at v → write v → delete every other version. Then one flush
        for the whole group, and only then does the registry say 'indexed v'. Chunk ids derive
        from (doc, version, ordinal), so a retry after a crash overwrites instead of adding.
        """
        written: list[tuple[DocumentVersion, int, int]] = []
        for item in documents:
            version = self._registry.begin_version(
                item.doc_id, item.source_uri, file_type=item.document.file_type
            )
            self._index.delete_document_version(item.doc_id, version)
            chunks = build_chunks(item, version=version)
            self._index.upsert(
                [
                    IndexedChunk(chunk=c, dense=d, sparse=s)
                    for c, d, s in zip(chunks, item.dense, item.sparse, strict=True)
                ]
            )
            self._index.delete_document(item.doc_id, keep_version=version)
            written.append((item, version, len(chunks)))
        # One flush per group: a flush is an fsync, and it only has to precede the commits.
        self._index.flush()
        for item, version, count in written:
            self._registry.commit_version(
                item.doc_id,
                version=version,
                content_hash=item.content_hash,
                pipeline=item.pipeline_id,
                title=item.document.title,
                acl=item.acl,
                tenant=item.tenant,
                chunk_count=count,
            )
        return [count for _, _, count in written]

    def purge(self, doc_id: str) -> None:
        """Delete a document: registry marks it, the chunks go, then the row goes."""
        self._registry.mark_deleting(doc_id)
        self._index.delete_document(doc_id)
        self._index.flush()
        self._registry.remove(doc_id)

    def abandon_pending(self, doc_id: str, error: str) -> None:
        """Drop the chunks of a version that will never be committed (its job gave up), so
        they do not sit beside the previous version's as duplicates; the document is marked
        failed with ``error``. Nothing to do when no version is pending."""
        version = self._registry.pending_version(doc_id)
        if version is None:
            return
        self._index.delete_document_version(doc_id, version)
        self._index.flush()
        # The crash may have come after the old version was deleted: count what is left.
        self._registry.abandon_version(doc_id, error, chunk_count=self._index.count(doc_id))

    def set_acl(self, doc_id: str, acl: Acl) -> None:
        """Change who may read a document: payload update, no re-embedding."""
        self._index.set_acl(doc_id, acl)
        self._index.flush()
        self._registry.set_acl(doc_id, acl)

    def sweep_orphans(self, known_doc_ids: set[str]) -> int:
        """Delete chunks whose document the registry does not know; returns how many docs."""
        orphans = self._index.document_ids() - known_doc_ids
        for doc_id in orphans:
            log.warning("removing orphaned chunks", extra=fields(doc_id=doc_id))
            self._index.delete_document(doc_id)
        if orphans:
            self._index.flush()
        return len(orphans)

    def optimize(self) -> None:
        """Build the search structures after bulk writes."""
        self._index.optimize()


def build_chunks(item: DocumentVersion, *, version: int) -> list[Chunk]:
    """Give a document's passages ids, its ACL and links to their neighbours."""
    document = item.document
    ids = [chunk_id(item.doc_id, version, n) for n in range(len(document.passages))]
    return [
        Chunk(
            chunk_id=ids[n],
            doc_id=item.doc_id,
            version=version,
            ordinal=n,
            text=passage.text,
            title=document.title,
            source_uri=item.source_uri,
            section_path=passage.section_path,
            pages=passage.pages,
            element_types=passage.element_types,
            table_html=passage.table_html,
            file_type=document.file_type,
            prev_chunk_id=ids[n - 1] if n > 0 else None,
            next_chunk_id=ids[n + 1] if n + 1 < len(ids) else None,
            token_count=passage.token_count,
            acl=item.acl,
            tenant=item.tenant,
            modified_at=item.modified_at,
        )
        for n, passage in enumerate(document.passages)
    ]
