"""The web app's sign-in sessions: a signed cookie naming a session kept in this process.

The cookie ``citewise_session`` carries only a random session id, signed (itsdangerous) with
``web.session_secret`` and timestamped, so a forged or expired cookie is refused before any
lookup. The session itself (the principal, its CSRF token, its expiry, and for an API-key
sign-in the key, to re-check it) stays in the serving process's memory and never reaches the
browser. Keeping it server-side is what makes sign-out final: a signed cookie alone stays
valid until it expires, whoever deletes it. The price: a restart ends every session, and
several replicas need sticky sessions (a table would need a migration; the embedded default
is one process).

State-changing requests that the cookie authenticates must repeat the session's CSRF token
in the ``X-CSRF-Token`` header (a synchronizer token, which a cross-site page cannot read);
a foreign ``Origin`` is refused outright.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from core.models import Principal
from core.settings import WebSettings

COOKIE_NAME = "citewise_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change state: cookie-authenticated ones need the CSRF token."""
_SESSION_SALT = "citewise.web.session"

SignInMethod = Literal["api_key", "oidc"]


@dataclass(frozen=True)
class WebSession:
    """One signed-in browser."""

    session_id: str
    principal: Principal
    csrf_token: str
    via: SignInMethod
    issued_at: float
    expires_at: float
    api_key: str | None = field(default=None, repr=False)
    """The API key signed in with, kept to re-check it on every request (a revoked key ends
    the session); never sent to the browser. None for an OIDC sign-in."""

    @property
    def expires(self) -> datetime:
        """The expiry as an aware UTC datetime."""
        return datetime.fromtimestamp(self.expires_at, UTC)


class WebSessions:
    """The signed-in sessions of this process, bounded in number, ended by sign-out, expiry or
    a revoked key."""

    def __init__(
        self,
        secret: str,
        *,
        lifetime_s: float,
        max_sessions: int = 10_000,
        max_per_user: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``secret`` signs the cookies; ``clock`` (seconds since the epoch) is for tests."""
        self._serializer = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._max = max_sessions
        self._max_per_user = max_per_user
        self._clock = clock
        # Insertion order is expiry order (one lifetime for all): the oldest come first.
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: WebSettings) -> WebSessions:
        """Sessions as configured; without ``web.session_secret`` a random secret for this
        process (its sessions then end with it)."""
        secret = settings.session_secret
        return cls(
            secret.get_secret_value() if secret is not None else secrets.token_urlsafe(32),
            lifetime_s=settings.session_hours * 3600,
            max_sessions=settings.max_sessions,
            max_per_user=settings.max_sessions_per_user,
        )

    def serializer(self, salt: str) -> URLSafeTimedSerializer:
        """A signer with this process's secret for another purpose (the OIDC sign-in's
        short-lived state cookie); ``salt`` keeps its values from passing as sessions."""
        return URLSafeTimedSerializer(self._secret, salt=salt)

    def start(
        self, principal: Principal, *, via: SignInMethod, api_key: str | None = None
    ) -> tuple[WebSession, str]:
        """A new session for ``principal``; returns it and the cookie value naming it."""
        now = self._clock()
        session = WebSession(
            session_id=secrets.token_urlsafe(32),
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            via=via,
            issued_at=now,
            expires_at=now + self.lifetime_s,
            api_key=api_key,
        )
        with self._lock:
            self._drop_expired(now)
            # A user's own oldest sessions end first, so that one key signing in over and
            # over cannot push everybody else's sessions out of the global bound.
            mine = [
                key for key, held in self._sessions.items() if _same_user(held.principal, principal)
            ]
            for key in mine[: max(0, len(mine) - self._max_per_user + 1)]:
                del self._sessions[key]
            while len(self._sessions) >= self._max:
                self._sessions.popitem(last=False)
            self._sessions[session.session_id] = session
        return session, self._serializer.dumps(session.session_id)

    def find(self, cookie: str) -> WebSession | None:
        """The live session a cookie value names; None for a forged, expired or ended one."""
        try:
            session_id = self._serializer.loads(cookie, max_age=math.ceil(self.lifetime_s))
        except BadData:
            return None
        if not isinstance(session_id, str):
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        """End a session (sign-out, revoked key); no-op if it has ended already."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _drop_expired(self, now: float) -> None:
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.expires_at > now:
                return
            self._sessions.popitem(last=False)


def _same_user(a: Principal, b: Principal) -> bool:
    return a.user_id == b.user_id and a.tenant == b.tenant


def web_sessions_of(connection: HTTPConnection) -> WebSessions | None:
    """The app's sessions (``create_app`` makes them); None in an app without the web app."""
    found = getattr(connection.app.state, "web_sessions", None)
    return found if isinstance(found, WebSessions) else None


def is_secure(connection: HTTPConnection) -> bool:
    """Whether the request came over HTTPS (behind a proxy: as uvicorn's ``--proxy-headers``
    made it, never from a header this code trusts itself)."""
    return connection.url.scheme in ("https", "wss")


def set_session_cookie(
    response: Response, connection: HTTPConnection, value: str, max_age_s: float
) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Path=/, an expiry, and Secure when the
    request came over HTTPS."""
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=int(max_age_s),
        expires=int(max_age_s),  # for clients that ignore Max-Age
        path="/",
        secure=is_secure(connection),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, connection: HTTPConnection) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=is_secure(connection), httponly=True, samesite="lax"
    )


def csrf_matches(session: WebSession, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF token (compared in constant time)."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), session.csrf_token.encode())


def foreign_origin(connection: HTTPConnection) -> bool:
    """Whether the request says it comes from another site: an ``Origin`` (or, without one, a
    ``Referer``) naming another host or port than this request's ``Host``, a plain-HTTP page
    posting to HTTPS, or the opaque ``null`` origin. A request with neither header (not a
    browser) is not foreign."""
    origin = connection.headers.get("origin")
    if origin is None:
        referer = connection.headers.get("referer")
        if not referer:
            return False
        origin = referer
    if origin.strip().lower() == "null":
        return True
    parts = urlsplit(origin)
    own = connection.url
    if parts.netloc.lower() != own.netloc.lower():
        return True
    # An https page posting to what looks like http is a TLS proxy whose X-Forwarded-Proto
    # uvicorn does not trust (FORWARDED_ALLOW_IPS): the same site. The reverse is a downgrade.
    return parts.scheme.lower() == "http" and is_secure(connection)
