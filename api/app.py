"""The FastAPI application: built from settings, models warmed once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from api import feedback_routes, metrics, openai_routes, problems, routes
from api.auth import Authenticator
from api.feedback_store import FeedbackStore
from core.settings import Settings
from generation.answer import AnswerService
from retrieval.search import Searcher

_log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the routes use; built once per process by the composition root."""

    searcher: Searcher
    answers: AnswerService
    authenticator: Authenticator
    feedback: FeedbackStore


ServicesFactory = Callable[[Settings], AbstractContextManager[Services]]
"""Opens the services for the app's lifetime (the composition root's ``open_services``)."""


def create_app(settings: Settings, open_services: ServicesFactory) -> FastAPI:
    """The Citewise HTTP API. ``open_services`` runs at start-up (loading and warming the
    models) and is closed at shutdown; ``/readyz`` answers 200 only in between."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_services(settings) as services:
            app.state.services = services
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
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(feedback_routes.router)
    app.include_router(metrics.router)
    app.include_router(openai_routes.router)
    return app
