"""Who is calling: the ``Authorization: Bearer`` token (an API key, or an OIDC JWT when
``api.oidc`` is configured) turned into a ``Principal``.

The request-level resolution (Bearer header, and whatever else the app accepts) is
``api/http/caller.py``."""

from __future__ import annotations

from typing import Protocol

from core.errors import CitewiseError
from core.models import Principal


class AuthenticationError(CitewiseError):
    """A bearer token was rejected; the message says why in one line, never echoing the token
    (answered 401 with an RFC 6750 ``invalid_token`` challenge)."""


class Authenticator(Protocol):
    """Turns a bearer token into the principal it stands for, or ``None``."""

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; ``None`` when it is unknown, or
        AuthenticationError when the reason is worth telling (an expired JWT)."""
        ...
