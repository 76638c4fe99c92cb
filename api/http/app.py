"""The FastAPI application: built from settings, models warmed once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

from fastapi import FastAPI

from api.http import (
    ask_routes,
    audit_routes,
    document_routes,
    feedback_routes,
    metrics,
    oidc_login,
    openai_routes,
    problems,
    review_routes,
    source_routes,
    web_auth_routes,
)
from api.http.dependencies import Services
from api.http.request_guard import RequestGuard
from api.http.web import pages
from api.http.web_session import WebSessions
from core.settings import Settings

_log = logging.getLogger(__name__)


ServicesFactory = Callable[[Settings], AbstractContextManager[Services | None]]
"""Opens the services for the app's lifetime (the composition root's ``open_services``). A
test that overrides every dependency its routes use (``app.dependency_overrides``) may open
``None``."""


def create_app(settings: Settings, open_services: ServicesFactory) -> FastAPI:
    """The Citewise HTTP API. ``open_services`` runs at start-up (loading and warming the
    models) and is closed at shutdown; ``/readyz`` answers 200 only in between."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with open_services(settings) as services:
            app.state.services = services
            if services is not None and services.job_runner is not None:
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
    app.state.web_sessions = WebSessions.from_settings(settings.web)  # this app's sign-ins
    app.state.oidc_sign_in = oidc_login.OidcSignIn.from_settings(settings)  # None: off
    # Authentication and body limits before any route reads a body (api/http/request_guard.py).
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    problems.install(app)
    app.include_router(ask_routes.router)
    app.include_router(feedback_routes.router)
    app.include_router(review_routes.router)
    app.include_router(metrics.router)
    app.include_router(openai_routes.router)
    app.include_router(document_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(web_auth_routes.router)
    app.include_router(oidc_login.router)
    app.include_router(source_routes.router)
    pages.install(app)  # the web app: pages and /static assets
    return app
