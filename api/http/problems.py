"""Errors as RFC 9457 ``application/problem+json``: the one place that maps our errors to HTTP.

Every error is mapped on purpose (``describe``):

- **Client errors** (4xx) are the caller's to fix; the answer carries the error's own message.
  ``AuthenticationError`` 401; ``NotFoundError`` 404 (also a document the caller may not see:
  404, never 403); ``TooLargeError`` and ``PromptTooLongError`` 413; ``UnsupportedFormatError``
  415; ``InvalidInputError``, ``EmptyDocumentError`` and ``ParseError`` 422. FastAPI's request
  validation is 422 and a route's ``HTTPException`` (the admin check's 403, the 503 before
  start-up) keeps its status.
- **Server faults** (5xx) are everything else: the index, the generator, model loading, the
  database, settings, a missing system tool, another error of ours not listed above, and any
  unexpected exception. They answer 503 when the error is ``retryable`` (retrying may help),
  500 otherwise, with a generic detail and no internal text; the details are logged here under
  the request's id (the client's ``X-Request-ID``, or a new one), which the answer repeats.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.http.auth import AuthenticationError
from core.errors import (
    CitewiseError,
    EmptyDocumentError,
    InvalidInputError,
    NotFoundError,
    ParseError,
    TooLargeError,
    UnsupportedFormatError,
)
from generation.errors import PromptTooLongError

_log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    challenge: str = "Bearer",
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """A problem-details response; a 401 carries ``challenge`` as its ``WWW-Authenticate``."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = challenge
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def invalid_token_challenge(reason: str) -> str:
    """RFC 6750's challenge for a rejected token, ``reason`` cut down to what a quoted
    ``error_description`` may hold (printable ASCII without ``"`` and backslash)."""
    safe = "".join(c for c in reason if " " <= c <= "~" and c not in '"\\')
    return f'Bearer error="invalid_token", error_description="{safe}"'


CLIENT_ERRORS: tuple[tuple[type[CitewiseError], int], ...] = (
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (TooLargeError, 413),
    (PromptTooLongError, 413),  # the question does not fit the model's window: shorten it
    (UnsupportedFormatError, 415),
    (InvalidInputError, 422),
    (EmptyDocumentError, 422),
    (ParseError, 422),
)
"""The errors a caller can fix, first match wins; every other error is a server fault."""

_TITLES: dict[type[CitewiseError], str] = {InvalidInputError: "Invalid request"}
_FAULTS = {
    500: ("Internal Server Error", "the server failed to answer; the failure is logged"),
    503: ("Service Unavailable", "the service is unavailable for now; try again shortly"),
}


@dataclass(frozen=True)
class Problem:
    """What a client is told about an error: status, title and a detail safe to show."""

    status: int
    title: str
    detail: str

    @property
    def server_fault(self) -> bool:
        """A 5xx: the detail is generic, and the error itself is for the server's log."""
        return self.status >= 500


def status_of(error: BaseException) -> int:
    """HTTP status for an error: a client error's own status, else 503 for a retryable error
    of ours (retrying may help) and 500 for everything else."""
    for kind, status in CLIENT_ERRORS:
        if isinstance(error, kind):
            return status
    if isinstance(error, CitewiseError) and error.retryable:
        return 503
    return 500


def describe(error: BaseException) -> Problem:
    """The problem a client is shown for ``error``: a client error with its message (titled by
    its class), a server fault with a generic title and detail only."""
    status = status_of(error)
    if status >= 500 or not isinstance(error, CitewiseError):
        title, detail = _FAULTS[503 if status == 503 else 500]
        return Problem(status, title, detail)
    title = next((t for k, t in _TITLES.items() if isinstance(error, k)), type(error).__name__)
    return Problem(status, title, error.message)


def request_id(request: Request) -> str:
    """The client's ``X-Request-ID`` when it is a plain token, else a new random id."""
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def log_fault(error: BaseException, *, request_id: str | None = None, where: str = "") -> None:
    """Log a server fault with everything the client was not told (type, message, traceback)."""
    _log.error(
        "request failed: %s: %s",
        type(error).__name__,
        error,
        exc_info=error,
        extra={"request_id": request_id, "where": where, "error_type": type(error).__name__},
    )


def stream_problem(error: BaseException, *, where: str) -> tuple[Problem, str | None]:
    """``describe`` for an error in a response stream, whose status line is already sent: a
    server fault is logged under a new request id, which is returned to show the client."""
    shown = describe(error)
    if not shown.server_fault:
        return shown, None
    rid = uuid.uuid4().hex
    log_fault(error, request_id=rid, where=where)
    return shown, rid


def _respond(request: Request, error: Exception) -> JSONResponse:
    shown = describe(error)
    if not shown.server_fault:
        if isinstance(error, AuthenticationError):
            challenge = invalid_token_challenge(error.message)
            return problem(shown.status, shown.title, shown.detail, challenge=challenge)
        return problem(shown.status, shown.title, shown.detail)
    rid = request_id(request)
    log_fault(error, request_id=rid, where=f"{request.method} {request.url.path}")
    return problem(
        shown.status,
        shown.title,
        shown.detail,
        headers={REQUEST_ID_HEADER: rid},
        request_id=rid,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into problem responses."""

    @app.exception_handler(CitewiseError)
    async def _ours(request: Request, error: CitewiseError) -> JSONResponse:
        return _respond(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in error.errors()
        ]
        return problem(422, "Invalid request", "the request body is not valid", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # Starlette runs this outermost and re-raises the error after sending the answer, so
        # the server's own log has it too.
        return _respond(request, error)
