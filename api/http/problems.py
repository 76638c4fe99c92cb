"""Errors as RFC 9457 ``application/problem+json``: the one place that maps our errors to HTTP."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.http.auth import AuthenticationError
from core.errors import (
    CitewiseError,
    ConfigError,
    NotFoundError,
    TooLargeError,
    UnsupportedFormatError,
)

_log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    challenge: str = "Bearer",
    **extra: object,
) -> JSONResponse:
    """A problem-details response; a 401 carries ``challenge`` as its ``WWW-Authenticate``."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": challenge} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def invalid_token_challenge(reason: str) -> str:
    """RFC 6750's challenge for a rejected token, ``reason`` cut down to what a quoted
    ``error_description`` may hold (printable ASCII without ``"`` and backslash)."""
    safe = "".join(c for c in reason if " " <= c <= "~" and c not in '"\\')
    return f'Bearer error="invalid_token", error_description="{safe}"'


_STATUS_BY_KIND: tuple[tuple[type[CitewiseError], int], ...] = (
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (TooLargeError, 413),
    (UnsupportedFormatError, 415),
)


def status_of(error: CitewiseError) -> int:
    """HTTP status for one of our errors: not found (which is also what a caller gets for a
    document they may not see: 404, never 403), unavailable when retrying may help."""
    for kind, status in _STATUS_BY_KIND:
        if isinstance(error, kind):
            return status
    if error.retryable:
        return 503
    if isinstance(error, ConfigError):
        return 500
    return 422


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into problem responses."""

    @app.exception_handler(CitewiseError)
    async def _ours(_: Request, error: CitewiseError) -> JSONResponse:
        status = status_of(error)
        if status >= 500:
            _log.error("request failed", extra={"error": error.message})
        if isinstance(error, AuthenticationError):
            challenge = invalid_token_challenge(error.message)
            return problem(status, type(error).__name__, error.message, challenge=challenge)
        return problem(status, type(error).__name__, error.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in error.errors()
        ]
        return problem(422, "Invalid request", "the request body is not valid", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail))

    @app.exception_handler(ValueError)
    async def _value(_: Request, error: ValueError) -> JSONResponse:
        return problem(422, "Invalid request", str(error))
