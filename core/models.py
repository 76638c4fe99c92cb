"""Domain models exchanged between layers. Frozen pydantic models, no third-party types."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PUBLIC_GROUP = "public"
"""The reserved group that every principal belongs to. A document is public only when its ACL
names this group explicitly; an empty ACL means nobody but admins may read it."""


def heading_line(title: str, section_path: tuple[str, ...]) -> str:
    """The heading embedded above a passage: ``Title > Section > Subsection``."""
    return " > ".join(part for part in (title, *section_path) if part)


def embedding_text(title: str, section_path: tuple[str, ...], text: str) -> str:
    """The text embedded for a passage: its heading line, then the passage.

    Prefixing the title and section path lets a passage such as a bare table still match
    questions that name its topic.
    """
    heading = heading_line(title, section_path)
    return f"{heading}\n{text}" if heading else text


class FrozenModel(BaseModel):
    """The base of our domain models: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Acl(FrozenModel):
    """Who may read a document: any listed user, or any member of a listed group."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def is_public(self) -> bool:
        """True when the ACL explicitly grants the reserved ``public`` group."""
        return PUBLIC_GROUP in self.groups

    def describe(self) -> str:
        """A short human form, e.g. ``groups=hr,finance users=alice``."""
        parts = []
        if self.groups:
            parts.append("groups=" + ",".join(self.groups))
        if self.users:
            parts.append("users=" + ",".join(self.users))
        return " ".join(parts) or "nobody"


class Principal(FrozenModel):
    """The caller on whose behalf a search or answer runs."""

    user_id: str
    groups: tuple[str, ...] = ()
    tenant: str | None = None


class DocumentStatus(StrEnum):
    """Where a document stands in the ingestion life cycle."""

    INDEXING = "indexing"
    INDEXED = "indexed"
    FAILED = "failed"
    DELETING = "deleting"


class Document(FrozenModel):
    """One source document as the registry knows it."""

    doc_id: str
    source_uri: str
    title: str
    content_hash: str
    version: int
    acl: Acl
    tenant: str | None = None
    status: DocumentStatus
    error: str | None = None
    chunk_count: int = 0
    file_type: str | None = None
    created_at: datetime
    updated_at: datetime


class Chunk(FrozenModel):
    """A retrievable passage of a document version, with the context that citations need."""

    chunk_id: str
    doc_id: str
    version: int
    ordinal: int
    text: str
    title: str
    source_uri: str
    section_path: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    element_types: tuple[str, ...] = ()
    table_html: str | None = None
    file_type: str | None = None
    prev_chunk_id: str | None = None
    next_chunk_id: str | None = None
    token_count: int = 0
    acl: Acl
    tenant: str | None = None
    modified_at: datetime | None = None

    def embedding_text(self) -> str:
        """The text that is embedded for this chunk (see ``embedding_text``)."""
        return embedding_text(self.title, self.section_path, self.text)


class IngestOutcome(StrEnum):
    """What happened to one file in an ingest run."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


class FileResult(FrozenModel):
    """The outcome for one file, with a one-line reason when it failed."""

    source_uri: str
    outcome: IngestOutcome
    chunks: int = 0
    error: str | None = None


class IngestSummary(FrozenModel):
    """Totals of an ingest run, as the CLI prints them."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = 0
    unsupported: int = 0
    source_tokens: int = 0
    embedded_tokens: int = 0
    seconds: float = 0.0
    files: tuple[FileResult, ...] = Field(default=())

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return self.failed == 0


class JobKind(StrEnum):
    """What an ingestion job does to a document."""

    UPLOAD = "upload"
    DELETE = "delete"


class JobStatus(StrEnum):
    """Where an ingestion job stands; ``done`` and ``failed`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True once the job will not change any more."""
        return self in (JobStatus.DONE, JobStatus.FAILED)


class IngestJob(FrozenModel):
    """A queued change to one document (an upload to index, or a delete), as the API shows it.

    ``filename`` is the name the client sent, kept for display only: it never becomes a path.
    """

    job_id: str
    kind: JobKind
    status: JobStatus
    doc_id: str
    filename: str | None = None
    file_type: str | None = None
    size_bytes: int | None = None
    acl: Acl | None = None
    submitted_by: str
    outcome: IngestOutcome | None = None
    chunk_count: int | None = None
    error: str | None = None
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
