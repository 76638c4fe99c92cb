"""Documents and ingestion jobs: uploads and deletes become jobs; reads follow access control.

Everyone may list and read the documents they are allowed to see (others are 404, as in
search); only members of ``api.admin_group`` upload, delete and change ACLs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from api.http import audit_recording
from api.http.dependencies import Caller, DocumentsDep, SettingsDep
from api.http.reader_view import DocumentView, ReaderView
from core.errors import InvalidInputError
from core.models import Acl, Document, IngestJob, Principal
from core.settings import Settings
from store.audit_store import AuditAction

router = APIRouter(tags=["documents"])


def _is_admin(settings: Settings, caller: Principal) -> bool:
    return settings.api.admin_group in caller.groups


def admin(caller: Caller, settings: SettingsDep) -> Principal:
    """The caller, if a member of the admin group; 403 otherwise (whatever the document, so
    the answer reveals nothing about which documents exist)."""
    if not _is_admin(settings, caller):
        group = settings.api.admin_group
        raise HTTPException(403, f"managing documents needs membership of the {group!r} group")
    return caller


Admin = Annotated[Principal, Depends(admin)]


class DocumentList(BaseModel):
    """``GET /v1/documents`` result."""

    documents: list[DocumentView]


class JobList(BaseModel):
    """``GET /v1/jobs`` result, newest first."""

    jobs: list[IngestJob]


class AclUpdate(BaseModel):
    """``PATCH /v1/documents/{doc_id}/acl``: the new readers (replacing the old ones)."""

    model_config = ConfigDict(extra="forbid")

    users: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=1000
    )
    groups: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=1000, examples=[["hr"]]
    )

    def to_acl(self) -> Acl:
        """The domain ACL; at least one reader, since an empty ACL would hide the document."""
        users = [u.strip() for u in self.users if u.strip()]
        groups = [g.strip() for g in self.groups if g.strip()]
        if not users and not groups:
            raise InvalidInputError(
                "an ACL must name at least one user or group ('public': everyone)"
            )
        return Acl(users=tuple(dict.fromkeys(users)), groups=tuple(dict.fromkeys(groups)))


_JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Queued; follow the job at the `Location` header."},
    403: {"description": "The caller is not an admin."},
}


@router.post("/v1/documents", status_code=202, responses=_JOB_ACCEPTED)
def upload_document(
    *,
    service: DocumentsDep,
    response: Response,
    caller: Admin,
    audit: audit_recording.AuditDep,
    file: Annotated[UploadFile, File(description="The document; its type is read from its bytes.")],
    acl_groups: Annotated[
        list[str] | None, Form(description="Groups who may read it (repeat the field).")
    ] = None,
    acl_users: Annotated[list[str] | None, Form(description="Users who may read it.")] = None,
) -> IngestJob:
    """Upload a document for ingestion. A re-upload under the same file name is a new version
    of the same document. Without an ACL, a new document gets the configured default and an
    existing one keeps its own."""
    acl = None
    if acl_groups or acl_users:
        try:
            update = AclUpdate(users=acl_users or [], groups=acl_groups or [])
        except ValidationError as e:  # form fields, so not checked by FastAPI's body validation
            first = e.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidInputError(f"acl_{where}: {first['msg']}") from e
        acl = update.to_acl()
    job = service.upload(file.file, file.filename or "", acl, caller)
    detail: dict[str, JsonValue] = {"filename": file.filename, "job_id": job.job_id}
    if acl is not None:
        detail["acl"] = {"users": list(acl.users), "groups": list(acl.groups)}
    audit_recording.record_admin(audit, caller, AuditAction.UPLOAD, job.doc_id, detail)
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    return job


@router.get("/v1/documents")
def list_documents(service: DocumentsDep, settings: SettingsDep, caller: Caller) -> DocumentList:
    """The documents the caller may read (every document, for an admin); readers who are not
    admins see display paths and no content hashes."""
    documents = service.list_documents(caller, admin=_is_admin(settings, caller))
    view = ReaderView.of(settings, caller)
    return DocumentList(documents=[view.document(d) for d in documents])


@router.get("/v1/documents/{doc_id}", responses={404: {"description": "No such document."}})
def get_document(
    doc_id: str, service: DocumentsDep, settings: SettingsDep, caller: Caller
) -> DocumentView:
    """One document's registry record: status, version, chunks, ACL, last error (as
    ``GET /v1/documents`` shows it to the caller)."""
    document = service.get(doc_id, caller, admin=_is_admin(settings, caller))
    return ReaderView.of(settings, caller).document(document)


@router.delete("/v1/documents/{doc_id}", status_code=202, responses=_JOB_ACCEPTED)
def delete_document(
    doc_id: str,
    service: DocumentsDep,
    response: Response,
    caller: Admin,
    audit: audit_recording.AuditDep,
) -> IngestJob:
    """Queue the removal of a document and all its chunks."""
    job = service.delete(doc_id, caller)
    detail: dict[str, JsonValue] = {"job_id": job.job_id}
    audit_recording.record_admin(audit, caller, AuditAction.DELETE, doc_id, detail)
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    return job


@router.patch("/v1/documents/{doc_id}/acl", responses={404: {"description": "No such document."}})
def set_document_acl(
    doc_id: str,
    body: AclUpdate,
    service: DocumentsDep,
    caller: Admin,
    audit: audit_recording.AuditDep,
) -> Document:
    """Replace who may read a document; takes effect for searches at once, nothing is
    re-embedded."""
    acl = body.to_acl()
    document = service.set_acl(doc_id, acl)
    detail: dict[str, JsonValue] = {"users": list(acl.users), "groups": list(acl.groups)}
    audit_recording.record_admin(audit, caller, AuditAction.ACL_CHANGE, doc_id, detail)
    return document


@router.get("/v1/jobs/{job_id}", tags=["jobs"], responses={404: {"description": "No such job."}})
def get_job(job_id: str, service: DocumentsDep, settings: SettingsDep, caller: Caller) -> IngestJob:
    """An ingestion job: status (queued, running, done, failed), outcome, error, timings."""
    return service.job(job_id, caller, admin=_is_admin(settings, caller))


@router.get("/v1/jobs", tags=["jobs"])
def list_jobs(service: DocumentsDep, caller: Admin, limit: int = 100) -> JobList:
    """The most recent ingestion jobs (admins)."""
    return JobList(jobs=service.recent_jobs(limit=max(1, min(limit, 1000))))
