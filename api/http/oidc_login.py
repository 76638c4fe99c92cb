"""Sign-in to the web app with the identity provider: the authorization code flow with PKCE.

``GET /web/oidc/login`` sends the browser to the provider with a fresh ``state``, ``nonce``
and PKCE challenge (S256); their secret halves wait in a short-lived signed cookie scoped to
``/web/oidc``. ``GET /web/oidc/callback`` checks the state against that cookie, exchanges the
code (with the PKCE verifier, and the client secret for a confidential client) at the token
endpoint, verifies the ID token with the same JWT validation as API access tokens (issuer,
signature, expiry; audience = the client id; the nonce), and starts a web session for the
principal its claims map to. Both answer 404 while ``api.oidc.client_id`` is unset.

authlib (its httpx client) builds the authorization URL and talks to the token endpoint; its
types stay in this module. A failed sign-in goes back to ``/login?error=oidc`` and is logged
with its reason; the browser is never shown the provider's or the token's details.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from itsdangerous import BadData

from api.http.auth import AuthenticationError
from api.http.oidc import FETCH_TIMEOUT_S, JwksUnavailableError, JwtAuthenticator
from api.http.web_auth_routes import LOGIN_PAGE, NO_STORE, safe_next, start_session_response
from api.http.web_session import WebSessions, is_secure, web_sessions_of
from core.errors import CitewiseError
from core.models import Principal
from core.settings import OidcSettings, Settings

_log = logging.getLogger(__name__)

FLOW_COOKIE = "citewise_oidc"
"""The sign-in in progress: state, nonce, PKCE verifier and where to go after."""
FLOW_MAX_AGE_S = 600
"""A sign-in must come back from the provider within this long."""
SIGN_IN_FAILED = "oidc"
"""``/login?error=oidc``: signing in with the identity provider failed."""
_FLOW_PATH = "/web/oidc"
_FLOW_SALT = "citewise.web.oidc"


class ProviderError(CitewiseError):
    """The identity provider could not be used (discovery, token endpoint); may pass."""

    retryable = True


@dataclass(frozen=True)
class Endpoints:
    """Where the browser signs in, and where the code is exchanged."""

    authorization: str
    token: str


class OidcSignIn:
    """The authorization code flow with PKCE against ``api.oidc``'s provider."""

    def __init__(self, settings: OidcSettings, id_tokens: JwtAuthenticator) -> None:
        """``settings`` must have ``issuer`` and ``client_id``; ``id_tokens`` verifies the ID
        tokens (the provider's keys, issuer and algorithms)."""
        if settings.issuer is None or settings.client_id is None:
            raise ValueError("OIDC sign-in needs api.oidc.issuer and client_id")
        self._settings = settings
        self._issuer = settings.issuer
        self._client_id = settings.client_id
        self._id_tokens = id_tokens
        self._endpoints: Endpoints | None = None
        if settings.authorization_endpoint and settings.token_endpoint:
            self._endpoints = Endpoints(settings.authorization_endpoint, settings.token_endpoint)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcSignIn | None:
        """The sign-in for ``api.oidc``; None while ``client_id`` is unset."""
        oidc = settings.api.oidc
        if not oidc.login_enabled:
            return None
        return cls(oidc, JwtAuthenticator(oidc, default_tenant=settings.tenant))

    @property
    def redirect_url(self) -> str | None:
        """The configured callback URL (None: derived from each request)."""
        return self._settings.redirect_url

    def endpoints(self) -> Endpoints:
        """The configured endpoints, or those of the provider's discovery document (read once;
        ProviderError if it cannot be)."""
        with self._lock:
            if self._endpoints is None:
                self._endpoints = self._discover()
            return self._endpoints

    def authorization_url(
        self, *, redirect_url: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where to send the browser: the authorization endpoint with this sign-in's state,
        nonce and PKCE challenge (S256 of ``code_verifier``)."""
        with self._client(redirect_url) as client:
            url, _ = client.create_authorization_url(
                self.endpoints().authorization,
                state=state,
                code_verifier=code_verifier,
                nonce=nonce,
            )
        return str(url)

    def sign_in(self, *, code: str, redirect_url: str, code_verifier: str, nonce: str) -> Principal:
        """Exchange ``code`` for tokens and return the principal of the verified ID token.

        AuthenticationError when the provider refuses the code or the ID token is not valid
        for this sign-in; ProviderError (or JwksUnavailableError) when the provider cannot be
        reached or answers nonsense.
        """
        token_url = self.endpoints().token
        with self._client(redirect_url) as client:
            try:
                tokens: dict[str, Any] = client.fetch_token(
                    token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_url,
                )
            except OAuthError as e:
                raise AuthenticationError(f"the provider refused the code: {e.error}") from e
            except (httpx.HTTPError, ValueError) as e:
                raise ProviderError(f"the token endpoint {token_url} failed: {e}") from e
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise ProviderError(f"the token endpoint {token_url} returned no ID token")
        return self._id_tokens.authenticate_id_token(
            id_token, client_id=self._client_id, nonce=nonce
        )

    def _client(self, redirect_url: str) -> OAuth2Client:
        secret = self._settings.client_secret
        scopes = dict.fromkeys(("openid", *self._settings.scopes))
        return OAuth2Client(
            client_id=self._client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            # A public client proves itself with PKCE alone; a confidential one also with
            # its secret (HTTP Basic, which every provider accepts).
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=" ".join(scopes),
            redirect_uri=redirect_url,
            code_challenge_method="S256",
            timeout=FETCH_TIMEOUT_S,
            trust_env=False,
        )

    def _discover(self) -> Endpoints:
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=FETCH_TIMEOUT_S, trust_env=False)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise ProviderError(f"the provider's discovery document {url} failed: {e}") from e
        if not isinstance(document, dict) or document.get("issuer") != self._issuer:
            # OpenID Connect Discovery 4.3: a document naming another issuer is not this one's.
            raise ProviderError(f"the discovery document {url} is not for {self._issuer}")
        authorization = self._settings.authorization_endpoint or document.get(
            "authorization_endpoint"
        )
        token = self._settings.token_endpoint or document.get("token_endpoint")
        if not isinstance(authorization, str) or not isinstance(token, str):
            raise ProviderError(f"the discovery document {url} lacks the endpoints")
        return Endpoints(authorization, token)


def oidc_sign_in_of(request: Request) -> OidcSignIn:
    """The app's OIDC sign-in; 404 while it is not configured."""
    found = getattr(request.app.state, "oidc_sign_in", None)
    if not isinstance(found, OidcSignIn):
        raise HTTPException(404, "sign-in with an identity provider is not configured")
    return found


def _sessions(request: Request) -> WebSessions:
    sessions = web_sessions_of(request)
    if sessions is None:  # pragma: no cover - create_app always makes them
        raise HTTPException(404, "the web app is not served here")
    return sessions


SignInDep = Annotated[OidcSignIn, Depends(oidc_sign_in_of)]
SessionsDep = Annotated[WebSessions, Depends(_sessions)]

router = APIRouter(tags=["web"])


@router.get(
    "/web/oidc/login",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the identity provider"}, 404: {"description": "Off"}},
)
def oidc_login(
    request: Request,
    sign_in: SignInDep,
    sessions: SessionsDep,
    next: Annotated[str, Query(max_length=2048)] = "/",
) -> RedirectResponse:
    """Start signing in with the identity provider (authorization code flow with PKCE);
    after it, the browser lands on ``next`` (a path on this site)."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)  # 64 characters: RFC 7636 asks for 43 to 128
    redirect_url = sign_in.redirect_url or str(request.url_for("oidc_callback"))
    try:
        target = sign_in.authorization_url(
            redirect_url=redirect_url, state=state, nonce=nonce, code_verifier=verifier
        )
    except ProviderError as e:
        _log.warning("OIDC sign-in could not start: %s", e)
        return _failed()
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
    flow["redirect"] = redirect_url
    response = RedirectResponse(target, status_code=302, headers=NO_STORE)
    response.set_cookie(
        FLOW_COOKIE,
        sessions.serializer(_FLOW_SALT).dumps(flow),
        max_age=FLOW_MAX_AGE_S,
        path=_FLOW_PATH,
        secure=is_secure(request),
        httponly=True,
        # Lax: the cookie must come along on the provider's top-level redirect back here.
        samesite="lax",
    )
    return response


@router.get(
    "/web/oidc/callback",
    name="oidc_callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in, or back to `/login?error=oidc`"}},
)
def oidc_callback(
    request: Request,
    sign_in: SignInDep,
    sessions: SessionsDep,
    *,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=512)] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back: the code becomes a web session."""
    flow = _flow(request, sessions)
    if flow is None or error is not None or not code or not state:
        _log.warning("OIDC sign-in failed: %s", error or "no sign-in in progress or no code")
        return _failed()
    if not secrets.compare_digest(state.encode(), flow["state"].encode()):
        _log.warning("OIDC sign-in failed: the state does not match this browser's sign-in")
        return _failed()
    try:
        principal = sign_in.sign_in(
            code=code,
            redirect_url=flow["redirect"],
            code_verifier=flow["verifier"],
            nonce=flow["nonce"],
        )
    except (AuthenticationError, ProviderError, JwksUnavailableError) as e:
        _log.warning("OIDC sign-in failed: %s", e)
        return _failed()
    _, value = sessions.start(principal, via="oidc")
    _log.info("web sign-in", extra={"user_id": principal.user_id, "via": "oidc"})
    response = start_session_response(request, value, sessions.lifetime_s, flow["next"])
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH, secure=is_secure(request))
    return response


def _flow(request: Request, sessions: WebSessions) -> dict[str, str] | None:
    cookie = request.cookies.get(FLOW_COOKIE)
    if not cookie:
        return None
    try:
        flow = sessions.serializer(_FLOW_SALT).loads(cookie, max_age=FLOW_MAX_AGE_S)
    except BadData:
        return None
    keys = ("state", "nonce", "verifier", "next", "redirect")
    if not isinstance(flow, dict) or not all(isinstance(flow.get(k), str) for k in keys):
        return None
    return {k: str(flow[k]) for k in keys}


def _failed() -> RedirectResponse:
    response = RedirectResponse(
        f"{LOGIN_PAGE}?{urlencode({'error': SIGN_IN_FAILED})}", status_code=303, headers=NO_STORE
    )
    response.delete_cookie(FLOW_COOKIE, path=_FLOW_PATH)
    return response
