"""``GET /v1/audit``: the audit log, for admins; read-only.

The API has no route that updates or deletes audit rows: ``citewise audit purge`` and the
retention purge of ``citewise serve`` alone remove them (past ``audit.retention_days``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.http.audit_recording import AuditDep
from api.http.document_routes import Admin
from store.audit_store import AuditAction, AuditEvent

router = APIRouter(tags=["audit"])

MAX_EVENTS = 10_000
"""Most rows one ``GET /v1/audit`` returns (page with ``since``)."""


class AuditList(BaseModel):
    """``GET /v1/audit`` result, oldest first."""

    events: list[AuditEvent]


@router.get(
    "/v1/audit",
    responses={403: {"description": "The caller is not an admin."}},
)
def list_audit(
    audit: AuditDep,
    caller: Admin,
    *,
    since: Annotated[datetime | None, Query(description="From this time (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (ISO 8601).")] = None,
    user: Annotated[str | None, Query(max_length=256, description="Only this user.")] = None,
    action: Annotated[list[AuditAction] | None, Query(description="Only these actions.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 1000,
) -> AuditList:
    """The audit log (admins): questions with the documents shown, searches, and admin
    actions; read-only."""
    del caller  # admin check only
    if audit is None:
        return AuditList(events=[])
    found = audit.events(since=since, until=until, user_id=user, actions=action or (), limit=limit)
    return AuditList(events=found)
