"""The FastAPI application: built from settings, models warmed once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from api.http import (
    ask_routes,
    document_routes,
    feedback_routes,
    metrics,
    openai_routes,
    problems,
    review_routes,
)
from api.http.auth import Authenticator
from api.http.upload_limit import UploadLimitMiddleware
from core.settings import Settings
from generation.answer import AnswerService
from generation.models import Answer
from ingest.document_service import DocumentService
from ingest.job_runner import JobRunner
from retrieval.search import Searcher
from store.feedback_store import FeedbackStore
from store.review_store import ReviewStore

_log = logging.getLogger(__name__)


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


ServicesFactory = Callable[[Settings], AbstractContextManager[Services]]
"""Opens the services for the app's lifetime (the composition root's ``open_services``)."""


def create_app(settings: Settings, open_services: ServicesFactory) -> FastAPI:
    """The Citewise HTTP API. ``open_services`` runs at start-up (loading and warming the
    models) and is closed at shutdown; ``/readyz`` answers 200 only in between."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_services(settings) as services:
            app.state.services = services
            if services.job_runner is not None:
                services.job_runner.subscribe(app.state.metrics.observe_job)
            app.state.ready = True
            _log.info("ready", extra={"model": settings.llm.model})
            try:
                yield
            finally:
                app.state.ready = False

    app = FastAPI(
        title="Citewise",
        version="0.1.0",
        summary="Grounded, cited answers over your own documents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.metrics = metrics.ApiMetrics()  # this app's own registry
    app.add_middleware(
        UploadLimitMiddleware,
        path="/v1/documents",
        max_bytes=int(settings.api.max_upload_mb * 1_000_000),
    )
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    problems.install(app)
    app.include_router(ask_routes.router)
    app.include_router(feedback_routes.router)
    app.include_router(review_routes.router)
    app.include_router(metrics.router)
    app.include_router(openai_routes.router)
    app.include_router(document_routes.router)
    return app
