"""The web app's pages: ask (``/``), search, documents (admins) and sign-in.

Each page is a small server-rendered shell; the page's ES module talks to the JSON API
(``/v1/*``) with the session cookie, so the pages hold no logic of their own beyond who may
see them. Pages carry a Content-Security-Policy without inline scripts or styles.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.http.caller import resolve_caller
from api.http.dependencies import services_of
from core.models import Principal
from core.settings import Settings

_HERE = Path(__file__).resolve().parent
STATIC_PATH = "/static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # pdf.js draws pages into canvases and may decode images through blob: URLs
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_LOGIN_ERRORS = {
    "invalid": "That API key is not valid, or it has been revoked. Check it and try again.",
    "oidc": "Signing in with your identity provider did not work. Try again.",
    "expired": "Your session has expired. Sign in again.",
}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _templates() -> Jinja2Templates:
    return Jinja2Templates(directory=_HERE / "templates")


def install(app: FastAPI) -> None:
    """Add the pages and their static assets to the app."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=_HERE / "static"), name="static")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _caller(request: Request) -> Principal | None:
    """The signed-in caller (session cookie, or a Bearer key), or None when there is none."""
    services = services_of(request)
    try:
        return resolve_caller(request, _settings(request), services.authenticator)
    except HTTPException as e:
        if e.status_code == 401:
            return None
        raise


def _is_admin(settings: Settings, caller: Principal) -> bool:
    return settings.api.admin_group in caller.groups


def _render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    response = _templates().TemplateResponse(
        request, template, {"static": STATIC_PATH, **context}, status_code=status_code
    )
    response.headers.update(_PAGE_HEADERS)
    return response


def _app_page(request: Request, page: str, title: str) -> Response:
    caller = _caller(request)
    if caller is None:
        target = "/login?" + urlencode({"next": request.url.path})
        return RedirectResponse(target, status_code=303)
    settings = _settings(request)
    context = {
        "page": page,
        "title": title,
        "user": caller,
        "is_admin": _is_admin(settings, caller),
        "admin_group": settings.api.admin_group,
        "auth_required": settings.api.auth_required,
    }
    if page == "documents" and not context["is_admin"]:
        context |= {"page": "forbidden", "title": "Not allowed"}
        return _render(request, "forbidden.html", context, status_code=403)
    return _render(request, f"{page}.html", context)


@router.get("/", response_class=HTMLResponse)
def ask_page(request: Request) -> Response:
    """Ask: the chat page."""
    return _app_page(request, "ask", "Ask")


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request) -> Response:
    """Search the passages the caller may read."""
    return _app_page(request, "search", "Search")


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request) -> Response:
    """Upload, list, re-permission and delete documents (admins only)."""
    return _app_page(request, "documents", "Documents")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None, next: str = "/") -> Response:
    """Sign in with an API key, or with the identity provider when one is configured."""
    settings = _settings(request)
    context = {
        "page": "login",
        "title": "Sign in",
        "user": None,
        "is_admin": False,
        "error": _LOGIN_ERRORS.get(error or "", "Signing in failed. Try again.") if error else None,
        "oidc_enabled": settings.api.oidc.login_enabled,
        "next": next if next.startswith("/") and not next.startswith("//") else "/",
    }
    return _render(request, "login.html", context)
