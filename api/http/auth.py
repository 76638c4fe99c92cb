"""Who is calling: the ``Authorization: Bearer`` token (an API key, or an OIDC JWT when
``api.oidc`` is configured) turned into a ``Principal``."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.errors import CitewiseError
from core.models import PUBLIC_GROUP, Principal

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `citewise keys create`, or an OIDC access token (JWT) when "
    "`api.oidc` is configured.",
)


class AuthenticationError(CitewiseError):
    """A bearer token was rejected; the message says why in one line, never echoing the token
    (answered 401 with an RFC 6750 ``invalid_token`` challenge)."""


class Authenticator(Protocol):
    """Turns a bearer token into the principal it stands for, or ``None``."""

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; ``None`` when it is unknown, or
        AuthenticationError when the reason is worth telling (an expired JWT)."""
        ...


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its API key; 401 when the key is missing, unknown or revoked.

    With ``api.auth_required: false`` (local trials only) an anonymous caller gets public
    access under ``api.anonymous_user``.
    """
    state = request.app.state
    if credentials is None:
        if not state.settings.api.auth_required:
            return Principal(
                user_id=state.settings.api.anonymous_user,
                groups=(PUBLIC_GROUP,),
                tenant=state.settings.tenant,
            )
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>")
    authenticator: Authenticator = state.services.authenticator
    found = authenticator.authenticate(credentials.credentials)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key")
    return found


Caller = Annotated[Principal, Depends(principal)]
