"""What the routes depend on, as typed FastAPI dependencies.

The composition root builds ``Services`` once per process; the app keeps it for its lifetime.
Routes never reach into ``app.state``: they declare what they use (``AnswersDep``,
``DocumentsDep``, ``Caller``…), and a test swaps any of it through ``app.dependency_overrides``
(``app.dependency_overrides[answer_service] = lambda: fake``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.http.auth import Authenticator
from api.http.caller import resolve_caller
from core.models import Principal
from core.settings import Settings
from generation.answer import AnswerService
from generation.answer_types import Answer
from ingest.document_service import DocumentService
from ingest.job_runner import JobRunner
from retrieval.search import Searcher
from store.audit_store import AuditStore
from store.feedback_store import FeedbackStore
from store.review_store import ReviewStore


@dataclass
class Services:
    """What the routes use; built once per process by the composition root."""

    searcher: Searcher
    answers: AnswerService
    authenticator: Authenticator
    feedback: FeedbackStore
    documents: DocumentService
    job_runner: JobRunner | None = None
    """Runs uploads and deletes in this process (None when a separate worker does)."""
    reviews: ReviewStore[Answer] | None = None
    """The answer log and review queue (None: answers are not logged)."""
    audit: AuditStore | None = None
    """The audit log (None: ``audit.enabled`` is off)."""


def settings_of(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def services_of(request: Request) -> Services:
    """The services the app opened at start-up; 503 before start-up or after shutdown."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise HTTPException(503, "the service is not ready")
    return services


SettingsDep = Annotated[Settings, Depends(settings_of)]
ServicesDep = Annotated[Services, Depends(services_of)]


def searcher(services: ServicesDep) -> Searcher:
    """Hybrid search."""
    return services.searcher


def answer_service(services: ServicesDep) -> AnswerService:
    """The answer service (retrieve, generate, check)."""
    return services.answers


def authenticator(services: ServicesDep) -> Authenticator:
    """Turns bearer tokens into principals (API keys, OIDC)."""
    return services.authenticator


def feedback_store(services: ServicesDep) -> FeedbackStore:
    """Answer feedback."""
    return services.feedback


def document_service(services: ServicesDep) -> DocumentService:
    """Uploads, deletes, ACL changes and the job queue."""
    return services.documents


def answer_log(services: ServicesDep) -> ReviewStore[Answer] | None:
    """The answer log and review queue; None when answers are not logged."""
    return services.reviews


def audit_log(request: Request) -> AuditStore | None:
    """The audit log; None when auditing is off (or, in a test that overrides the routes'
    other dependencies, when no services were opened)."""
    services: Services | None = getattr(request.app.state, "services", None)
    return services.audit if services is not None else None


SearcherDep = Annotated[Searcher, Depends(searcher)]
AnswersDep = Annotated[AnswerService, Depends(answer_service)]
AuthenticatorDep = Annotated[Authenticator, Depends(authenticator)]
FeedbackDep = Annotated[FeedbackStore, Depends(feedback_store)]
DocumentsDep = Annotated[DocumentService, Depends(document_service)]
AnswerLogDep = Annotated[ReviewStore[Answer] | None, Depends(answer_log)]
AuditDep = Annotated[AuditStore | None, Depends(audit_log)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `citewise keys create`, or an OIDC access token (JWT) when "
    "`api.oidc` is configured.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The request's ``Authorization: Bearer`` credentials, if any."""


def principal(
    request: Request,
    credentials: Credentials,
    settings: SettingsDep,
    tokens: AuthenticatorDep,
) -> Principal:
    """The caller (see ``api.http.caller.resolve_caller``). ``credentials`` is declared so
    that the OpenAPI schema shows the Bearer scheme; the resolution reads the request."""
    del credentials
    return resolve_caller(request, settings, tokens)


Caller = Annotated[Principal, Depends(principal)]
