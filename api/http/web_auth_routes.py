"""The web app's sign-in with an API key, sign-out and session endpoint (``/web/*``).

``POST /web/login`` takes the key once, from the login page's form, and answers with the
session cookie (``api/http/web_session.py``); the pages then read ``GET /web/session`` for who
is signed in and the CSRF token their state-changing requests repeat. Sign-in with the
identity provider is ``api/http/oidc_login.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from api.http.caller import CROSS_SITE_REFUSED, CSRF_REFUSED, session_of
from api.http.dependencies import AuthenticatorDep, SettingsDep
from api.http.problems import problem
from api.http.web_session import (
    CSRF_HEADER,
    SignInMethod,
    WebSession,
    clear_session_cookie,
    csrf_matches,
    foreign_origin,
    set_session_cookie,
    web_sessions_of,
)
from core.settings import Settings
from store.key_store import TOKEN_PREFIX

_log = logging.getLogger(__name__)

LOGIN_PAGE = "/login"
INVALID_KEY = "invalid"
"""``/login?error=invalid``: the login page shows "That API key is not valid (unknown or
revoked).\""""
NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(tags=["web"])


class SessionInfo(BaseModel):
    """Who is signed in, for the web app's pages."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    groups: tuple[str, ...]
    tenant: str | None
    is_admin: bool
    csrf_token: str
    """Repeat it in the ``X-CSRF-Token`` header of every POST, PUT, PATCH and DELETE."""
    expires_at: datetime
    via: SignInMethod
    """How the session signed in: ``api_key`` or ``oidc``."""
    oidc_enabled: bool


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: a sign-in never redirects
    elsewhere (``//host``, ``https://host`` and backslash tricks are refused)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c < " " or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def start_session_response(
    request: Request, session_value: str, lifetime_s: float, target: str
) -> RedirectResponse:
    """The 303 to ``target`` that sets the new session's cookie."""
    response = RedirectResponse(safe_next(target), status_code=303, headers=NO_STORE)
    set_session_cookie(response, request, session_value, lifetime_s)
    return response


def session_info(session: WebSession, settings: Settings) -> SessionInfo:
    """What ``GET /web/session`` tells the pages about ``session``."""
    principal = session.principal
    return SessionInfo(
        user_id=principal.user_id,
        groups=principal.groups,
        tenant=principal.tenant,
        is_admin=settings.api.admin_group in principal.groups,
        csrf_token=session.csrf_token,
        expires_at=session.expires,
        via=session.via,
        oidc_enabled=settings.api.oidc.login_enabled,
    )


@router.post(
    "/web/login",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in (to `next`), or back to `/login?error=invalid`"}},
)
def login(
    request: Request,
    tokens: AuthenticatorDep,
    api_key: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> RedirectResponse:
    """Sign in with an API key (form field ``api_key``): sets the session cookie and redirects
    to ``next`` (a path on this site) or ``/``; a wrong or revoked key goes back to
    ``/login?error=invalid``. A post from another site is refused (403)."""
    if foreign_origin(request):
        raise HTTPException(403, CROSS_SITE_REFUSED)
    sessions = web_sessions_of(request)
    if sessions is None:  # pragma: no cover - create_app always makes them
        raise HTTPException(404, "the web app is not served here")
    key = api_key.strip()
    # Only API keys: a pasted access token (JWT) would outlive its own expiry in a session.
    principal = tokens.authenticate(key) if key.startswith(TOKEN_PREFIX) else None
    if principal is None:
        # The key itself is never logged: a mistyped one is one character from valid.
        _log.info("web sign-in refused: unknown or revoked API key")
        query = {"error": INVALID_KEY}
        if safe_next(next) != "/":
            query["next"] = safe_next(next)
        return RedirectResponse(f"{LOGIN_PAGE}?{urlencode(query)}", 303, headers=NO_STORE)
    previous = session_of(request, tokens)
    if previous is not None:
        sessions.end(previous.session_id)
    _, value = sessions.start(principal, via="api_key", api_key=key)
    _log.info("web sign-in", extra={"user_id": principal.user_id, "via": "api_key"})
    return start_session_response(request, value, sessions.lifetime_s, next)


@router.post(
    "/web/logout",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed out, to `/login`"}},
)
def logout(
    request: Request,
    tokens: AuthenticatorDep,
    csrf_token: Annotated[str | None, Form(max_length=512)] = None,
) -> RedirectResponse:
    """Sign out: ends the session (its cookie no longer works anywhere) and redirects to
    ``/login``. Needs the session's CSRF token, in the ``X-CSRF-Token`` header or the form
    field ``csrf_token``."""
    if foreign_origin(request):
        raise HTTPException(403, CROSS_SITE_REFUSED)
    session = session_of(request, tokens)
    if session is not None:
        presented = request.headers.get(CSRF_HEADER) or csrf_token
        if not csrf_matches(session, presented):
            raise HTTPException(403, CSRF_REFUSED)
        sessions = web_sessions_of(request)
        if sessions is not None:
            sessions.end(session.session_id)
        _log.info("web sign-out", extra={"user_id": session.principal.user_id})
    response = RedirectResponse(LOGIN_PAGE, status_code=303, headers=NO_STORE)
    clear_session_cookie(response, request)
    return response


@router.get(
    "/web/session",
    response_model=SessionInfo,
    responses={401: {"description": "Not signed in (the body says whether OIDC is offered)"}},
)
def current_session(
    request: Request, tokens: AuthenticatorDep, settings: SettingsDep
) -> SessionInfo | JSONResponse:
    """Who is signed in through the session cookie, with the CSRF token to send; 401 when no
    session is live (its body's ``oidc_enabled`` says whether to offer the provider)."""
    session = session_of(request, tokens)
    if session is None:
        return problem(
            401,
            "Not signed in",
            "sign in with an API key or your identity provider",
            challenge="Cookie",
            headers=NO_STORE,
            oidc_enabled=settings.api.oidc.login_enabled,
        )
    info = session_info(session, settings)
    return JSONResponse(info.model_dump(mode="json"), headers=NO_STORE)
