"""The document registry: which documents exist, which version is indexed, and what happened.

SQLAlchemy over SQLite (default) or PostgreSQL. The registry is the source of truth for sync:
a version counts as indexed only after its chunks are written and the old ones deleted, so a
crash at any point is repaired by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.errors import NotFoundError
from core.models import Acl, Document, DocumentStatus
from store.sql_store import SqlStore


class _Base(DeclarativeBase):
    pass


class _DocumentRow(_Base):
    __tablename__ = "documents"

    doc_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_uri: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    file_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    pending_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pipeline: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    acl_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    acl_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _EventRow(_Base):
    __tablename__ = "document_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class IndexedState:
    """What the registry knows of a document's indexed version, for the sync decision."""

    content_hash: str
    pipeline: str
    status: DocumentStatus
    version: int
    acl: Acl

    def is_current(self, content_hash: str, pipeline: str) -> bool:
        """True when this exact content was indexed by this exact pipeline."""
        return (
            self.status is DocumentStatus.INDEXED
            and self.content_hash == content_hash
            and self.pipeline == pipeline
        )


class DocumentRegistry(SqlStore):
    """Documents, their versions and an event log, in a SQL database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _Base.metadata, "registry")

    # -- reads ------------------------------------------------------------------------------

    def get(self, doc_id: str) -> Document:
        """The document with this id; NotFoundError if there is none."""
        with self._session() as s:
            row = s.get(_DocumentRow, doc_id)
            if row is None:
                raise NotFoundError(f"no document {doc_id}")
            return _to_document(row)

    def state(self, doc_id: str) -> IndexedState | None:
        """The indexed state used to decide whether a file changed."""
        with self._session() as s:
            row = s.get(_DocumentRow, doc_id)
            if row is None:
                return None
            return IndexedState(
                row.content_hash, row.pipeline, DocumentStatus(row.status), row.version, _acl(row)
            )

    def list_documents(self, *, uri_prefix: str | None = None) -> list[Document]:
        """All documents, optionally those whose source URI starts with ``uri_prefix``."""
        with self._session() as s:
            query = select(_DocumentRow).order_by(_DocumentRow.source_uri)
            if uri_prefix is not None:
                query = query.where(_DocumentRow.source_uri.startswith(uri_prefix, autoescape=True))
            return [_to_document(row) for row in s.scalars(query)]

    def document_ids(self) -> set[str]:
        """Ids of every registered document."""
        with self._session() as s:
            return set(s.scalars(select(_DocumentRow.doc_id)))

    def events(self, doc_id: str) -> list[tuple[datetime, str, str | None]]:
        """The event log of one document, oldest first."""
        with self._session() as s:
            rows = s.scalars(
                select(_EventRow).where(_EventRow.doc_id == doc_id).order_by(_EventRow.id)
            )
            return [(r.at, r.event, r.detail) for r in rows]

    # -- writes -----------------------------------------------------------------------------

    def begin_version(self, doc_id: str, source_uri: str, *, file_type: str | None) -> int:
        """Mark a document as being indexed and return the version number to write.

        A version left pending by a crash is reused, so its partial chunks are overwritten
        or cleaned up instead of piling up.
        """
        now = _now()
        with self._session() as s:
            row = s.get(_DocumentRow, doc_id)
            if row is None:
                row = _DocumentRow(
                    doc_id=doc_id,
                    source_uri=source_uri,
                    version=0,
                    status=DocumentStatus.INDEXING.value,
                    created_at=now,
                    acl_users=[],
                    acl_groups=[],
                    chunk_count=0,
                    content_hash="",
                    pipeline="",
                    title="",
                )
                s.add(row)
            version = row.pending_version or row.version + 1
            row.pending_version = version
            row.status = DocumentStatus.INDEXING.value
            row.file_type = file_type
            row.updated_at = now
            _log(s, doc_id, "indexing", f"version {version}")
            return version

    def commit_version(
        self,
        doc_id: str,
        *,
        version: int,
        content_hash: str,
        pipeline: str,
        title: str,
        acl: Acl,
        tenant: str | None,
        chunk_count: int,
    ) -> None:
        """Record that ``version`` is fully indexed and the previous one is gone."""
        with self._session() as s:
            row = _require(s, doc_id)
            row.version = version
            row.pending_version = None
            row.content_hash = content_hash
            row.pipeline = pipeline
            row.title = title
            row.acl_users = list(acl.users)
            row.acl_groups = list(acl.groups)
            row.tenant = tenant
            row.chunk_count = chunk_count
            row.status = DocumentStatus.INDEXED.value
            row.error = None
            row.updated_at = _now()
            _log(s, doc_id, "indexed", f"version {version}, {chunk_count} chunks")

    def mark_failed(
        self, doc_id: str, source_uri: str, error: str, *, file_type: str | None
    ) -> None:
        """Record a failure; an earlier indexed version stays searchable."""
        now = _now()
        with self._session() as s:
            row = s.get(_DocumentRow, doc_id)
            if row is None:
                row = _DocumentRow(
                    doc_id=doc_id,
                    source_uri=source_uri,
                    version=0,
                    created_at=now,
                    acl_users=[],
                    acl_groups=[],
                    chunk_count=0,
                    content_hash="",
                    pipeline="",
                    title="",
                )
                s.add(row)
            row.status = DocumentStatus.FAILED.value
            row.error = error
            row.file_type = file_type
            row.updated_at = now
            _log(s, doc_id, "failed", error)

    def pending_version(self, doc_id: str) -> int | None:
        """The version being written and not yet committed, if any."""
        with self._session() as s:
            row = s.get(_DocumentRow, doc_id)
            return row.pending_version if row is not None else None

    def abandon_version(self, doc_id: str, error: str, *, chunk_count: int) -> None:
        """Give up on the pending version: the document is ``failed`` with ``error``, keeps
        its last committed version (if its chunks survived: ``chunk_count`` is what the index
        still holds) and the next upload or sync re-indexes it."""
        with self._session() as s:
            row = _require(s, doc_id)
            row.pending_version = None
            row.status = DocumentStatus.FAILED.value
            row.error = error
            row.chunk_count = chunk_count
            row.updated_at = _now()
            _log(s, doc_id, "failed", error)

    def mark_deleting(self, doc_id: str) -> None:
        """First step of a purge: the row stays until the chunks are gone."""
        with self._session() as s:
            row = _require(s, doc_id)
            row.status = DocumentStatus.DELETING.value
            row.updated_at = _now()
            _log(s, doc_id, "deleting", None)

    def remove(self, doc_id: str) -> None:
        """Last step of a purge: forget the document (its events stay)."""
        with self._session() as s:
            s.execute(delete(_DocumentRow).where(_DocumentRow.doc_id == doc_id))
            _log(s, doc_id, "deleted", None)

    def set_acl(self, doc_id: str, acl: Acl) -> None:
        """Change a document's ACL."""
        with self._session() as s:
            row = _require(s, doc_id)
            row.acl_users = list(acl.users)
            row.acl_groups = list(acl.groups)
            row.updated_at = _now()
            _log(s, doc_id, "acl", acl.describe())


def _require(s: Session, doc_id: str) -> _DocumentRow:
    row = s.get(_DocumentRow, doc_id)
    if row is None:
        raise NotFoundError(f"no document {doc_id}")
    return row


def _log(s: Session, doc_id: str, event: str, detail: str | None) -> None:
    s.add(_EventRow(doc_id=doc_id, at=_now(), event=event, detail=detail))


def _now() -> datetime:
    return datetime.now(UTC)


def _acl(row: _DocumentRow) -> Acl:
    return Acl(users=tuple(row.acl_users or ()), groups=tuple(row.acl_groups or ()))


def _to_document(row: _DocumentRow) -> Document:
    return Document(
        doc_id=row.doc_id,
        source_uri=row.source_uri,
        title=row.title,
        content_hash=row.content_hash,
        version=row.version,
        acl=_acl(row),
        tenant=row.tenant,
        status=DocumentStatus(row.status),
        error=row.error,
        chunk_count=row.chunk_count,
        file_type=row.file_type,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
