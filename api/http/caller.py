"""Who is calling: the one place where a request's credentials (a Bearer token, or the web
app's session cookie with its CSRF rules) become a ``Principal``.

The ``Caller`` route dependency (``api/http/dependencies.py``) and anything that must know the
caller before a route runs (middleware that authenticates before a body is read, the web app's
pages) call ``resolve_caller``, so every way in accepts exactly the same credentials.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from api.http.auth import Authenticator
from api.http.web_session import (
    COOKIE_NAME,
    CSRF_HEADER,
    UNSAFE_METHODS,
    WebSession,
    csrf_matches,
    foreign_origin,
    web_sessions_of,
)
from core.models import PUBLIC_GROUP, Principal
from core.settings import Settings

_CACHE_KEY = "citewise_caller"
_SESSION_KEY = "citewise_web_session"
CSRF_REFUSED = "CSRF token missing or invalid"
CROSS_SITE_REFUSED = "cross-site request refused"


def bearer_token(connection: HTTPConnection) -> str | None:
    """The request's ``Authorization: Bearer`` token, if it sends one."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def session_of(connection: HTTPConnection, tokens: Authenticator) -> WebSession | None:
    """The live web session the request's ``citewise_session`` cookie names, if any.

    A session signed in with an API key is re-checked against ``tokens`` (the key store)
    each time: a revoked key ends it here. Kept in the request's scope, like the caller.
    """
    if _SESSION_KEY in connection.scope:
        cached = connection.scope[_SESSION_KEY]
        return cached if isinstance(cached, WebSession) else None
    found = _live_session(connection, tokens)
    connection.scope[_SESSION_KEY] = found
    return found


def _live_session(connection: HTTPConnection, tokens: Authenticator) -> WebSession | None:
    sessions = web_sessions_of(connection)
    cookie = connection.cookies.get(COOKIE_NAME)
    if sessions is None or not cookie:
        return None
    session = sessions.find(cookie)
    if session is None or session.api_key is None:
        return session
    if tokens.authenticate(session.api_key) is None:
        sessions.end(session.session_id)
        return None
    return session


def resolve_caller(
    connection: HTTPConnection, settings: Settings, tokens: Authenticator
) -> Principal:
    """The caller of this request; 401 when the key is missing, unknown or revoked.

    A request without a Bearer header may be authenticated by a web session cookie; then a
    state-changing method needs the session's token in the ``X-CSRF-Token`` header and no
    foreign ``Origin`` (403 otherwise). Only headers and cookies are read, never the body, so
    middleware may call this before a route runs.

    With ``api.auth_required: false`` (local trials only) an anonymous caller gets public
    access under ``api.anonymous_user``. The result is kept in the request's scope, so a
    middleware that resolved it already spares the route a second lookup.
    """
    cached = connection.scope.get(_CACHE_KEY)
    if isinstance(cached, Principal):
        return cached
    found = _resolve(connection, settings, tokens)
    connection.scope[_CACHE_KEY] = found
    return found


def _resolve(connection: HTTPConnection, settings: Settings, tokens: Authenticator) -> Principal:
    token = bearer_token(connection)
    if token is None:
        session = session_of(connection, tokens)
        if session is not None:
            _check_csrf(connection, session)
            return session.principal
        if not settings.api.auth_required:
            return Principal(
                user_id=settings.api.anonymous_user,
                groups=(PUBLIC_GROUP,),
                tenant=settings.tenant,
            )
        if COOKIE_NAME in connection.cookies:
            raise HTTPException(401, "your session has ended: sign in again")
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>")
    found = tokens.authenticate(token)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key")
    return found


def _check_csrf(connection: HTTPConnection, session: WebSession) -> None:
    # A browser attaches the cookie to requests other sites make it send; the token it must
    # repeat is readable only by our own pages (GET /web/session, same-origin).
    if connection.scope.get("method", "GET").upper() not in UNSAFE_METHODS:
        return
    if foreign_origin(connection):
        raise HTTPException(403, CROSS_SITE_REFUSED)
    if not csrf_matches(session, connection.headers.get(CSRF_HEADER)):
        raise HTTPException(403, CSRF_REFUSED)
