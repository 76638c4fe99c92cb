"""Web sign-in over a real socket: a uvicorn server (real lifespan, the ingested sample corpus
with its HR-only documents) driven by httpx clients that keep cookies like a browser (the
fixture is ``visitor``: pytest-playwright owns ``browser``).

API-key sign-in with keys made in the real key store; the cookie's flags as sent; the cookie
authenticating ``/v1`` and ``/web/session``; forged cross-site requests refused; sign-out and
key revocation ending sessions. OIDC sign-in against a minimal real provider on loopback
(discovery, JWKS, an authorize endpoint that signs its user in at once, a token endpoint that
checks the client secret and the PKCE verifier and signs an ID token with a generated key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api import composition
from api.http.app import create_app
from api.http.web_session import COOKIE_NAME
from core.settings import Settings
from store.key_store import ApiKeyStore
from tests.live_server import serve_in_thread

pytestmark = [pytest.mark.model, pytest.mark.slow]

CLIENT_ID = "citewise-web"
CLIENT_SECRET = "web-client-secret"  # the test provider's client
SALARY = {"query": "salary band L3 software engineer", "k": 10}


class LocalIdp:
    """A minimal OpenID provider on 127.0.0.1 that signs in ``user`` without asking."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user: dict[str, Any] = {"sub": "hana", "groups": ["hr"]}
        self.nonce_override: str | None = None
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, idp.discovery())
                elif url.path == "/jwks":
                    jwk = RSAAlgorithm.to_jwk(idp.key.public_key(), as_dict=True)
                    self._json(200, {"keys": [{**jwk, "kid": "idp-1", "use": "sig"}]})
                elif url.path == "/authorize":
                    self._authorize(query)
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = idp.token(form, self.headers.get("Authorization", ""))
                self._json(status, body)

            def _authorize(self, query: dict[str, str]) -> None:
                if (
                    query.get("response_type") != "code"
                    or query.get("client_id") != CLIENT_ID
                    or query.get("code_challenge_method") != "S256"
                    or not query.get("code_challenge")
                    or "openid" not in query.get("scope", "").split()
                ):
                    self._json(400, {"error": "invalid_request", "query": query})
                    return
                code = secrets.token_urlsafe(16)
                idp.codes[code] = query
                back = urlencode({"code": code, "state": query["state"]})
                target = f"{query['redirect_uri']}?{back}"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def discovery(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
        }

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        """The token endpoint: a confidential client (HTTP Basic), a single-use code, the same
        redirect URI, and the PKCE verifier whose S256 is the challenge sent to /authorize."""
        self.token_requests.append({**form, "authorization": authorization})
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce_override or grant["nonce"],
            **self.user,
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "idp-1"})
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def idp() -> Iterator[LocalIdp]:
    provider = LocalIdp()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def settings(sample_api_settings: Settings, idp: LocalIdp) -> Settings:
    """The ingested sample corpus, with web sign-in through ``idp`` (endpoints discovered)."""
    oidc = {
        "issuer": idp.issuer,
        "audience": "citewise-api",
        "jwks_url": f"{idp.issuer}/jwks",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return Settings.load(
        data_dir=sample_api_settings.data_dir,
        ingest={"workers": 0},
        llm={"model": sample_api_settings.llm.model},
        api={"oidc": oidc},
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, until the module ends."""
    with serve_in_thread(create_app(settings, composition.open_services)) as port:
        yield f"http://127.0.0.1:{port}"


def new_key(settings: Settings, user: str, *groups: str) -> tuple[str, str]:
    """A new API key in the real key store: (key id, token)."""
    store = ApiKeyStore(settings.registry_url)
    try:
        info, token = store.create(user, groups)
        return info.key_id, token
    finally:
        store.close()


@pytest.fixture
def visitor(base_url: str) -> Iterator[httpx.Client]:
    """A cookie-keeping client that does not follow redirects (each hop is checked)."""
    with httpx.Client(base_url=base_url, timeout=120, follow_redirects=False) as client:
        yield client


def sign_in(visitor: httpx.Client, token: str, **form: str) -> httpx.Response:
    return visitor.post("/web/login", data={"api_key": token, **form})


def csrf(visitor: httpx.Client) -> str:
    answer = visitor.get("/web/session")
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["csrf_token"]
    return token


def test_a_wrong_or_revoked_key_is_sent_back_with_a_message(
    visitor: httpx.Client, settings: Settings
) -> None:
    key_id, token = new_key(settings, "eve", "staff")
    store = ApiKeyStore(settings.registry_url)
    try:
        store.revoke(key_id)
    finally:
        store.close()
    for wrong in (token, token[:-4] + "AAAA", "cw_000000000000_" + "x" * 43, "hunter2"):
        answer = sign_in(visitor, wrong, next="/documents")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?error=invalid&next=%2Fdocuments"
        assert "set-cookie" not in answer.headers
    assert visitor.get("/web/session").status_code == 401


def test_the_right_key_sets_a_safe_cookie_that_authenticates_the_api(
    visitor: httpx.Client, settings: Settings, base_url: str
) -> None:
    _, token = new_key(settings, "eve", "staff")
    answer = sign_in(visitor, token, next="/search?q=leave")
    assert answer.status_code == 303 and answer.headers["location"] == "/search?q=leave"
    header = answer.headers["set-cookie"]
    cookie = SimpleCookie(header)[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == int(settings.web.session_hours * 3600) and cookie["expires"]
    assert not cookie["secure"], "plain HTTP: a Secure cookie would never come back"
    assert token not in header and token.split("_")[1] not in header  # no key in the cookie
    info = visitor.get("/web/session").json()
    assert info["user_id"] == "eve" and info["groups"] == ["staff"] and info["via"] == "api_key"
    assert info["is_admin"] is False and info["oidc_enabled"] is True and info["csrf_token"]
    documents = visitor.get("/v1/documents")
    assert documents.status_code == 200, documents.text
    uris = [d["source_uri"] for d in documents.json()["documents"]]
    assert uris and not any("salary-bands" in u for u in uris)
    # An off-site `next` lands on the home page instead.
    assert sign_in(visitor, token, next="//evil.test/x").headers["location"] == "/"
    with httpx.Client(base_url=base_url) as stranger:
        assert stranger.get("/v1/documents").status_code == 401


def test_forged_cross_site_requests_are_refused(visitor: httpx.Client, settings: Settings) -> None:
    _, token = new_key(settings, "eve", "staff")
    forged_login = visitor.post(
        "/web/login", data={"api_key": token}, headers={"Origin": "http://evil.test"}
    )
    assert forged_login.status_code == 403 and COOKIE_NAME not in forged_login.cookies
    assert sign_in(visitor, token).status_code == 303
    good = csrf(visitor)
    # What a page on another site can make the browser send: the cookie, no token.
    for headers in ({}, {"X-CSRF-Token": good[:-2] + "xx"}, {"X-CSRF-Token": ""}):
        refused = visitor.post("/v1/search", json=SALARY, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["title"] == "CSRF token missing or invalid"
    foreign = visitor.post(
        "/v1/search", json=SALARY, headers={"X-CSRF-Token": good, "Origin": "http://evil.test"}
    )
    assert foreign.status_code == 403
    assert visitor.post("/web/logout").status_code == 403  # sign-out needs the token too
    allowed = visitor.post(
        "/v1/search",
        json=SALARY,
        headers={"X-CSRF-Token": good, "Origin": str(visitor.base_url).rstrip("/")},
    )
    assert allowed.status_code == 200, allowed.text
    assert not any("salary-bands" in r["source_uri"] for r in allowed.json()["results"])
    # Bearer calls are unchanged: no cookie, no CSRF token.
    with httpx.Client(base_url=visitor.base_url, timeout=120) as api:
        bearer = api.post("/v1/search", json=SALARY, headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200


def test_sign_out_ends_the_session_for_good(visitor: httpx.Client, settings: Settings) -> None:
    _, token = new_key(settings, "eve", "staff")
    assert sign_in(visitor, token).status_code == 303
    stolen = visitor.cookies[COOKIE_NAME]
    out = visitor.post("/web/logout", data={"csrf_token": csrf(visitor)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert COOKIE_NAME not in visitor.cookies
    with httpx.Client(base_url=visitor.base_url, cookies={COOKIE_NAME: stolen}) as replay:
        assert replay.get("/web/session").status_code == 401
        ended = replay.get("/v1/documents")
        assert ended.status_code == 401 and "sign in again" in ended.json()["title"]


def test_a_revoked_key_ends_its_sessions(visitor: httpx.Client, settings: Settings) -> None:
    key_id, token = new_key(settings, "eve", "staff")
    assert sign_in(visitor, token).status_code == 303
    assert visitor.get("/v1/documents").status_code == 200
    store = ApiKeyStore(settings.registry_url)
    try:
        store.revoke(key_id)
    finally:
        store.close()
    assert visitor.get("/v1/documents").status_code == 401
    assert visitor.get("/web/session").status_code == 401


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def oidc_sign_in(visitor: httpx.Client, idp: LocalIdp, next_path: str = "/") -> httpx.Response:
    """Start at /web/oidc/login, let the provider answer, and return the callback's answer."""
    start = visitor.get("/web/oidc/login", params={"next": next_path})
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{idp.issuer}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == str(visitor.base_url.join("/web/oidc/callback"))
    back = httpx.get(authorize, follow_redirects=False)
    assert back.status_code == 302, back.text
    return visitor.get(back.headers["location"])


def test_oidc_sign_in_with_pkce_maps_the_id_tokens_claims(
    visitor: httpx.Client, idp: LocalIdp
) -> None:
    idp.user = {"sub": "hana", "groups": ["hr"]}
    done = oidc_sign_in(visitor, idp, "/documents")
    assert done.status_code == 303 and done.headers["location"] == "/documents", done.text
    assert SimpleCookie(done.headers.get_list("set-cookie")[0])[COOKIE_NAME]["httponly"]
    exchange = idp.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) == 64
    assert exchange["authorization"].startswith("Basic ")
    info = visitor.get("/web/session").json()
    assert info["user_id"] == "hana" and info["groups"] == ["hr"] and info["via"] == "oidc"
    documents = visitor.get("/v1/documents").json()["documents"]
    assert any("salary-bands" in d["source_uri"] for d in documents)
    found = visitor.post("/v1/search", json=SALARY, headers={"X-CSRF-Token": info["csrf_token"]})
    assert found.json()["results"][0]["source_uri"].endswith("salary-bands.md")
    # The provider does check PKCE: the same kind of code with another verifier is refused.
    start = visitor.get("/web/oidc/login")
    back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    code = parse_qs(urlsplit(back).query)["code"][0]
    wrong = httpx.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": secrets.token_urlsafe(48),
            "redirect_uri": query_of(start.headers["location"])["redirect_uri"],
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert wrong.status_code == 400 and wrong.json()["error_description"] == "PKCE verifier"


def test_oidc_sign_in_refuses_a_foreign_state_a_wrong_nonce_and_a_replayed_code(
    visitor: httpx.Client, idp: LocalIdp
) -> None:
    idp.user = {"sub": "mallory", "groups": ["hr"]}
    # The callback without this browser's sign-in in progress (an attacker's own code).
    start = visitor.get("/web/oidc/login")
    back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    with httpx.Client(base_url=visitor.base_url) as victim:
        forged = victim.get(back, follow_redirects=False)
        assert forged.headers["location"] == "/login?error=oidc"
        assert victim.get("/web/session").status_code == 401
    # The same callback URL, state swapped.
    url = urlsplit(back)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    swapped = visitor.get(url.path, params={**query, "state": "not-the-state"})
    assert swapped.headers["location"] == "/login?error=oidc"
    # An ID token whose nonce belongs to another sign-in.
    idp.nonce_override = "someone-elses-nonce"
    try:
        assert oidc_sign_in(visitor, idp).headers["location"] == "/login?error=oidc"
    finally:
        idp.nonce_override = None
    assert visitor.get("/web/session").status_code == 401
    # The provider's own refusal (a replayed code) is a failed sign-in, not a 500.
    start = visitor.get("/web/oidc/login")
    back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
    first = visitor.get(back)
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert visitor.post("/web/logout", headers={"X-CSRF-Token": csrf(visitor)}).status_code == 303
    start = visitor.get("/web/oidc/login")
    stale = urlsplit(back)
    fresh_state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    code = parse_qs(stale.query)["code"][0]
    replayed = visitor.get(stale.path, params={"code": code, "state": fresh_state})
    assert replayed.headers["location"] == "/login?error=oidc"
    assert visitor.get("/web/session").status_code == 401
