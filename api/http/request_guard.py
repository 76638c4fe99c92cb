"""Authenticate, then bound the body: ASGI middleware that runs before any route reads a byte.

FastAPI parses a body (spooling a multipart upload to the temp directory, or a JSON document
into memory) before the route's dependencies check the caller, and uvicorn has no body size or
body time limit. So, for every request, before the application sees it:

1. **Who is calling.** ``resolve_caller`` (the one place credentials become a principal) runs
   on the headers alone. Under ``/v1`` a request it refuses is answered 401 (or 403) at once,
   with ``Connection: close``, and not one body byte is read. An upload (``POST
   /v1/documents``) from a caller outside ``api.admin_group`` is refused 403 the same way.
   Outside ``/v1`` (the web app's sign-in form, health, metrics) the routes decide, and an
   unauthenticated body may be at most ``api.max_anonymous_body_kb``.
2. **How much.** The bytes are counted as they stream through the ASGI receive channel,
   whatever ``Content-Length`` or ``Transfer-Encoding`` claim (h11 ignores a length sent
   beside ``chunked``). One byte over the limit (``api.max_upload_mb`` for uploads plus the
   form's framing, ``api.max_json_kb`` for the rest) ends the body with 413: a parser that was
   spooling it has written at most the limit, and drops it.
3. **How slowly.** A body that sends nothing for ``api.body_idle_timeout_s``, or is not
   whole after ``api.body_timeout_s``, is answered 408 and its connection closed.

The refusals raise ``BodyRefused`` (an ``HTTPException``) out of ``receive``, so the app's
problem handler answers them like any other error; should the exception escape before a
response started, this middleware answers it itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.auth import AuthenticationError, Authenticator
from api.http.caller import bearer_token, resolve_caller
from api.http.problems import describe, invalid_token_challenge, problem
from core.models import Principal
from core.settings import Settings

UPLOAD_PATHS = frozenset({"/v1/documents"})
"""``POST`` targets that take a file (``api.max_upload_mb``) rather than a JSON body."""
API_PREFIX = "/v1/"
_FORM_OVERHEAD = 64 * 1024  # room for the multipart framing and the form fields around a file
_CLOSE = {"Connection": "close"}  # the unread rest of a refused body must not be parsed


class BodyRefused(HTTPException):
    """A request body over its size limit (413) or too slow to arrive (408)."""


@dataclass(frozen=True)
class BodyLimit:
    """How many body bytes a request may send, and the setting that says so."""

    max_bytes: int
    setting: str

    def refusal(self) -> str:
        """The 413's detail."""
        return f"the request body is over the limit ({self.setting})"


def _refusal(error: HTTPException | AuthenticationError) -> Response:
    if isinstance(error, AuthenticationError):
        shown = describe(error)
        challenge = invalid_token_challenge(error.message)
        return problem(shown.status, shown.title, shown.detail, challenge=challenge, headers=_CLOSE)
    return problem(error.status_code, str(error.detail), headers=_CLOSE)


class RequestGuard:
    """Authentication, body size and body time limits before the app reads a request body."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, upload_paths: frozenset[str] = UPLOAD_PATHS
    ) -> None:
        self.app = app
        self.settings = settings
        self.upload_paths = upload_paths
        api = settings.api
        self._json = BodyLimit(api.max_json_kb * 1024, f"api.max_json_kb: {api.max_json_kb}")
        self._anonymous = BodyLimit(
            api.max_anonymous_body_kb * 1024,
            f"api.max_anonymous_body_kb: {api.max_anonymous_body_kb}, without credentials",
        )
        self._upload = BodyLimit(
            int(api.max_upload_mb * 1_000_000) + _FORM_OVERHEAD,
            f"api.max_upload_mb: {api.max_upload_mb:g}",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse early, or pass the request on with a guarded receive channel."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admitted = await self._admit(scope)
        if isinstance(admitted, Response):
            _match_route(scope)
            await admitted(scope, receive, send)
            return
        api = self.settings.api
        body = GuardedBody(
            receive,
            limit=admitted,
            idle_s=api.body_idle_timeout_s,
            total_s=api.body_timeout_s,
        )
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if body.refused:  # a refused body's rest is still on the wire: close
                    headers = [*message.get("headers", []), (b"connection", b"close")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, body.receive, send_closing)
        except BodyRefused as e:
            if started:
                raise
            await _refusal(e)(scope, receive, send)

    async def _admit(self, scope: Scope) -> BodyLimit | Response:
        """The body limit for this request, or the response that refuses it unread."""
        connection = HTTPConnection(scope)
        is_api = scope["path"].startswith(API_PREFIX)
        tokens = _authenticator(scope)
        if tokens is None:
            # Not started yet (or a test app without services): routes answer 503 or use
            # their overrides; nothing is authenticated, so bodies get the JSON limit.
            return self._json
        credentials = bearer_token(connection) is not None or bool(connection.cookies)
        if not is_api and not credentials:
            return self._anonymous
        try:
            caller = await run_in_threadpool(resolve_caller, connection, self.settings, tokens)
        except (HTTPException, AuthenticationError) as e:
            if is_api:
                return _refusal(e)
            return self._anonymous
        if scope["method"] == "POST" and scope["path"] in self.upload_paths:
            return self._upload_limit(caller)
        return self._json

    def _upload_limit(self, caller: Principal) -> BodyLimit | Response:
        """Uploads are for admins (as the route says, but before the file is spooled)."""
        group = self.settings.api.admin_group
        if group not in caller.groups:
            detail = f"managing documents needs membership of the {group!r} group"
            return problem(403, detail, headers=_CLOSE)
        return self._upload


def _match_route(scope: Scope) -> None:
    """Name the route a refused request was for, as the router would have (metrics label
    requests by route template)."""
    router = getattr(scope.get("app"), "router", None)
    route = _find_route(getattr(router, "routes", ()), scope)
    if route is not None:
        scope["route"] = route


def _find_route(routes: Iterable[object], scope: Scope) -> BaseRoute | None:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            found = _find_route(getattr(included, "routes", ()), scope)
            if found is not None:
                return found
        elif isinstance(route, BaseRoute) and route.matches(scope)[0] is Match.FULL:
            return route
    return None


def _authenticator(scope: Scope) -> Authenticator | None:
    app = scope.get("app")
    services = getattr(getattr(app, "state", None), "services", None)
    tokens: Authenticator | None = getattr(services, "authenticator", None)
    return tokens


class GuardedBody:
    """An ASGI receive channel that counts body bytes and times their arrival.

    Once the body is complete, messages pass through untimed (a streaming response listens on
    the same channel for the client's disconnect for as long as it streams).
    """

    def __init__(
        self, receive: Receive, *, limit: BodyLimit, idle_s: float, total_s: float
    ) -> None:
        self._receive = receive
        self._limit = limit
        self._idle_s = idle_s
        self._total_s = total_s
        self._deadline: float | None = None
        self._received = 0
        self._done = False
        self.refused = False

    async def receive(self) -> Message:
        """The next message; BodyRefused when the body grows too large or too slow."""
        if self._done:
            return await self._receive()
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._total_s
        wait = min(self._idle_s, self._deadline - now)
        message = await self._within(wait, self._receive)
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit.max_bytes:
                self.refused = True
                raise BodyRefused(413, self._limit.refusal())
            self._done = not message.get("more_body", False)
        else:
            self._done = True  # http.disconnect: nothing more will come
        return message

    async def _within(self, seconds: float, receive: Callable[[], Awaitable[Message]]) -> Message:
        if seconds > 0:
            with anyio.move_on_after(seconds):
                return await receive()
        self.refused = True
        raise BodyRefused(
            408,
            f"the request body did not arrive in time (api.body_idle_timeout_s "
            f"{self._idle_s:g} s, api.body_timeout_s {self._total_s:g} s)",
        )
