"""Opening a source: one chunk with its neighbours, and a document's original file.

What a reader opens from a citation or a search result. Access is checked exactly like search:
the chunk is fetched from the index with the caller's access scope inside the query, and a
document's file is served only when its ACL admits the caller. Anything the caller may not read
answers 404, never 403 (admins get no wider view here than in search).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.http import audit_recording
from api.http.dependencies import Caller, DocumentsDep, SearcherDep, SettingsDep
from api.http.reader_view import ReaderView
from core.errors import NotFoundError
from core.ids import file_sha256
from core.models import Chunk
from retrieval.index import VectorIndex
from retrieval.query import AccessScope
from store.audit_store import AuditAction

router = APIRouter(tags=["sources"])

MAX_NEIGHBOURS = 3
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such chunk or document, or the caller may not read it."}
}


class ChunkText(BaseModel):
    """A neighbouring passage of the same document version."""

    chunk_id: str
    ordinal: int
    text: str
    section_path: list[str]
    pages: list[int]


class ChunkView(BaseModel):
    """``GET /v1/chunks/{chunk_id}``: a passage as the source viewer shows it."""

    chunk_id: str
    doc_id: str
    version: int
    ordinal: int
    title: str
    source_uri: str
    file_type: str | None
    section_path: list[str]
    pages: list[int]
    text: str
    before: list[ChunkText]
    """Up to ``neighbours`` preceding chunks, in document order."""
    after: list[ChunkText]
    """Up to ``neighbours`` following chunks, in document order."""


@router.get("/v1/chunks/{chunk_id}", responses=_NOT_FOUND)
def get_chunk(
    chunk_id: str,
    caller: Caller,
    *,
    searcher: SearcherDep,
    settings: SettingsDep,
    audit: audit_recording.AuditDep,
    neighbours: Annotated[int, Query(ge=0, le=MAX_NEIGHBOURS)] = 1,
) -> ChunkView:
    """One passage the caller may read, with its title, section path, pages and up to
    ``neighbours`` readable chunks on each side. ``source_uri`` is the caller's view of it
    (a display path for readers who are not admins, as in search)."""
    scope = AccessScope.for_principal(caller)
    chunk = _fetch(searcher.index, chunk_id, scope)
    if chunk is None:
        raise NotFoundError(f"no chunk {chunk_id}")
    before: list[ChunkText] = []
    previous = chunk
    for _ in range(neighbours):
        found = _fetch(searcher.index, previous.prev_chunk_id, scope)
        if found is None:
            break
        before.insert(0, _text(found))
        previous = found
    after: list[ChunkText] = []
    following = chunk
    for _ in range(neighbours):
        found = _fetch(searcher.index, following.next_chunk_id, scope)
        if found is None:
            break
        after.append(_text(found))
        following = found
    shown = [c.chunk_id for c in before] + [chunk.chunk_id] + [c.chunk_id for c in after]
    audit_recording.record_read(audit, caller, AuditAction.SOURCE_OPEN, chunk.doc_id, shown)
    return ChunkView(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        version=chunk.version,
        ordinal=chunk.ordinal,
        title=chunk.title,
        source_uri=ReaderView.of(settings, caller).uri(chunk.source_uri),
        file_type=chunk.file_type,
        section_path=list(chunk.section_path),
        pages=list(chunk.pages),
        text=chunk.text,
        before=before,
        after=after,
    )


@router.get(
    "/v1/documents/{doc_id}/file",
    responses={
        **_NOT_FOUND,
        200: {"description": "The original file, as it was ingested."},
    },
    response_class=FileResponse,
)
def get_document_file(
    doc_id: str, caller: Caller, service: DocumentsDep, audit: audit_recording.AuditDep
) -> FileResponse:
    """The original file of a document the caller may read (for the PDF viewer).

    Only files ingested from a folder are kept where they were found; an upload's bytes are
    discarded once ingested, and a file that has changed since it was ingested is not the one
    the citations point into: both answer 404.
    """
    document = service.get(doc_id, caller, admin=False)  # the reader's ACL, as in search
    path = _local_path(document.source_uri)
    if path is None or not path.is_file():
        raise NotFoundError(f"the original file of document {doc_id} is not available")
    if file_sha256(path) != document.content_hash:
        raise NotFoundError(f"the original file of document {doc_id} has changed since ingestion")
    audit_recording.record_read(audit, caller, AuditAction.FILE_OPEN, doc_id)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(
        path,
        media_type=media_type,
        content_disposition_type="inline",
        filename=path.name,
        headers={
            # An HTML or SVG original must never run as part of the app's origin.
            "Content-Security-Policy": "sandbox",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _fetch(index: VectorIndex, chunk_id: str | None, scope: AccessScope) -> Chunk | None:
    if not chunk_id or not _is_uuid(chunk_id):  # chunk ids are UUIDs; anything else: no chunk
        return None
    found = index.fetch([chunk_id], scope)
    return found[0] if found else None


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _text(chunk: Chunk) -> ChunkText:
    return ChunkText(
        chunk_id=chunk.chunk_id,
        ordinal=chunk.ordinal,
        text=chunk.text,
        section_path=list(chunk.section_path),
        pages=list(chunk.pages),
    )


def _local_path(source_uri: str) -> Path | None:
    """The local file a ``file://`` source URI names; None for any other scheme (uploads)."""
    parsed = urlparse(source_uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parsed.path))
