"""Who is calling: the one place where a request's credentials become a ``Principal``.

The ``Caller`` route dependency (``api/http/dependencies.py``) and anything that must know the
caller before a route runs (middleware that authenticates before a body is read, the web app's
pages) call ``resolve_caller``, so every way in accepts exactly the same credentials.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from api.http.auth import Authenticator
from core.models import PUBLIC_GROUP, Principal
from core.settings import Settings

_CACHE_KEY = "citewise_caller"


def bearer_token(connection: HTTPConnection) -> str | None:
    """The request's ``Authorization: Bearer`` token, if it sends one."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def resolve_caller(
    connection: HTTPConnection, settings: Settings, tokens: Authenticator
) -> Principal:
    """The caller of this request; 401 when the key is missing, unknown or revoked.

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
        if not settings.api.auth_required:
            return Principal(
                user_id=settings.api.anonymous_user,
                groups=(PUBLIC_GROUP,),
                tenant=settings.tenant,
            )
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>")
    found = tokens.authenticate(token)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key")
    return found
