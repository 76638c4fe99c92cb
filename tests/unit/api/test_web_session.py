"""The web sign-in's logic, fast: the session table (expiry, bound, sign-out, forged cookies),
the cookie's flags over HTTP and HTTPS, the redirect guard, the Origin check, and cookie
authentication with CSRF through ``resolve_caller`` in an app whose services are fakes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import nullcontext
from http.cookies import SimpleCookie
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import Response

from api.http import dependencies
from api.http.app import create_app
from api.http.auth import AuthenticationError
from api.http.caller import resolve_caller
from api.http.dependencies import Caller
from api.http.oidc import JwtAuthenticator
from api.http.web_auth_routes import safe_next
from api.http.web_session import (
    COOKIE_NAME,
    WebSessions,
    foreign_origin,
    set_session_cookie,
)
from core.errors import ConfigError
from core.models import Principal
from core.settings import OidcSettings, Settings

KEY = "cw_0123456789ab_" + "s" * 43
EVE = Principal(user_id="eve", groups=("staff",), tenant="acme")


class FakeKeys:
    """One valid API key, revocable."""

    def __init__(self) -> None:
        self.revoked = False

    def authenticate(self, token: str) -> Principal | None:
        return EVE if token == KEY and not self.revoked else None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _request(url: str, headers: dict[str, str] | None = None) -> Request:
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    raw = [(b"host", host.encode())] + [
        (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": scheme,
        "server": (host.split(":")[0], 443 if scheme == "https" else 80),
        "path": "/" + path,
        "query_string": b"",
        "headers": raw,
    }
    return Request(scope)


def test_a_session_lives_until_its_expiry_and_ends_at_sign_out() -> None:
    clock = Clock()
    sessions = WebSessions("x" * 32, lifetime_s=3600, clock=clock)
    session, cookie = sessions.start(EVE, via="api_key", api_key=KEY)
    assert session.session_id not in cookie or cookie.count(".") == 2  # signed, timestamped
    assert sessions.find(cookie) == session
    clock.now += 3599
    assert sessions.find(cookie) == session
    sessions.end(session.session_id)
    assert sessions.find(cookie) is None
    other, cookie = sessions.start(EVE, via="api_key")
    clock.now += 3601
    assert sessions.find(cookie) is None
    assert len(sessions) == 0 and other.csrf_token != session.csrf_token


def test_a_forged_or_foreign_cookie_finds_nothing() -> None:
    sessions = WebSessions("x" * 32, lifetime_s=3600)
    session, cookie = sessions.start(EVE, via="oidc")
    elsewhere = WebSessions("y" * 32, lifetime_s=3600)
    assert elsewhere.find(cookie) is None
    assert sessions.find(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert sessions.find(session.session_id) is None  # the bare id, unsigned
    # A value signed for another purpose (the OIDC state cookie) is not a session.
    assert sessions.find(sessions.serializer("other").dumps(session.session_id)) is None


def test_the_oldest_session_makes_room_beyond_the_bound() -> None:
    clock = Clock()
    sessions = WebSessions("x" * 32, lifetime_s=3600, max_sessions=2, clock=clock)
    cookies = []
    for _ in range(3):
        clock.now += 1
        cookies.append(sessions.start(EVE, via="api_key")[1])
    assert [sessions.find(c) is not None for c in cookies] == [False, True, True]


def test_one_user_signing_in_repeatedly_ends_only_their_own_oldest_sessions() -> None:
    clock = Clock()
    sessions = WebSessions("x" * 32, lifetime_s=3600, max_sessions=4, max_per_user=2, clock=clock)
    other = Principal(user_id="olga", groups=("staff",))
    _, olgas = sessions.start(other, via="api_key")
    eves = []
    for _ in range(5):
        clock.now += 1
        eves.append(sessions.start(EVE, via="api_key")[1])
    assert sessions.find(olgas) is not None  # not pushed out by Eve's sign-ins
    assert [sessions.find(c) is not None for c in eves] == [False, False, False, True, True]


def test_without_a_configured_secret_each_process_signs_with_its_own() -> None:
    web = Settings().web
    one, two = WebSessions.from_settings(web), WebSessions.from_settings(web)
    _, cookie = one.start(EVE, via="api_key")
    assert one.find(cookie) is not None and two.find(cookie) is None
    assert one.lifetime_s == web.session_hours * 3600


def test_the_cookie_is_http_only_lax_expiring_and_secure_over_https() -> None:
    for url, secure in (("http://127.0.0.1:8000/web/login", False), ("https://a.test/", True)):
        response = Response()
        set_session_cookie(response, _request(url), "value", 8 * 3600)
        header = response.headers["set-cookie"]
        morsel = SimpleCookie(header)[COOKIE_NAME]
        assert morsel.value == "value"
        assert morsel["httponly"] is True and morsel["samesite"] == "lax"
        assert morsel["path"] == "/" and morsel["max-age"] == str(8 * 3600) and morsel["expires"]
        assert bool(morsel["secure"]) is secure, header


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/search?q=a", "/search?q=a"),
        ("/documents", "/documents"),
        (None, "/"),
        ("", "/"),
        ("https://evil.test/", "/"),
        ("//evil.test/", "/"),
        ("/\\evil.test", "/"),
        ("search", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_sign_in_redirects_only_to_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    ("headers", "foreign"),
    [
        ({}, False),
        ({"Origin": "http://127.0.0.1:8000"}, False),
        ({"Origin": "http://evil.test"}, True),
        ({"Origin": "http://127.0.0.1:8001"}, True),
        ({"Origin": "https://127.0.0.1:8000"}, False),  # a TLS proxy not trusted by uvicorn
        ({"Origin": "null"}, True),
        ({"Referer": "http://127.0.0.1:8000/login"}, False),
        ({"Referer": "http://evil.test/page"}, True),
    ],
)
def test_the_origin_check(headers: dict[str, str], foreign: bool) -> None:
    assert foreign_origin(_request("http://127.0.0.1:8000/web/login", headers)) is foreign


def test_a_plain_http_page_may_not_post_to_https() -> None:
    request = _request("https://a.test/web/login", {"Origin": "http://a.test"})
    assert foreign_origin(request)
    assert not foreign_origin(_request("https://a.test/web/login", {"Origin": "https://a.test"}))


@pytest.fixture
def keys() -> FakeKeys:
    return FakeKeys()


@pytest.fixture
def client(keys: FakeKeys) -> Iterator[TestClient]:
    """The app with fake services: the key store is ``keys``; ``/probe`` echoes the caller."""
    app = create_app(Settings(), lambda _s: nullcontext(None))
    app.dependency_overrides[dependencies.authenticator] = lambda: keys
    probe = APIRouter()

    @probe.get("/probe")
    @probe.post("/probe")
    def _probe(caller: Caller) -> dict[str, str]:
        return {"user": caller.user_id}

    app.include_router(probe)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


def _sign_in(client: TestClient) -> str:
    answer = client.post("/web/login", data={"api_key": KEY}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    token = client.get("/web/session").json()["csrf_token"]
    assert isinstance(token, str)
    return token


def test_a_wrong_key_goes_back_to_the_login_page(client: TestClient) -> None:
    for key in ("cw_0123456789ab_" + "t" * 43, "not a key", "", "a.b.c"):
        answer = client.post(
            "/web/login", data={"api_key": key, "next": "/search"}, follow_redirects=False
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?error=invalid&next=%2Fsearch"
        assert COOKIE_NAME not in answer.cookies
    session = client.get("/web/session")
    assert session.status_code == 401 and session.json()["oidc_enabled"] is False


def test_the_cookie_authenticates_and_csrf_guards_unsafe_methods(client: TestClient) -> None:
    assert client.get("/probe").status_code == 401
    token = _sign_in(client)
    info = client.get("/web/session").json()
    assert info["user_id"] == "eve" and info["groups"] == ["staff"] and info["tenant"] == "acme"
    assert info["is_admin"] is False and info["via"] == "api_key" and info["expires_at"]
    assert client.get("/probe").json() == {"user": "eve"}
    refused = client.post("/probe")
    assert refused.status_code == 403 and refused.json()["title"] == "CSRF token missing or invalid"
    assert client.post("/probe", headers={"X-CSRF-Token": token[:-1] + "x"}).status_code == 403
    assert client.post("/probe", headers={"X-CSRF-Token": token}).json() == {"user": "eve"}
    cross = client.post("/probe", headers={"X-CSRF-Token": token, "Origin": "http://evil.test"})
    assert cross.status_code == 403
    # Bearer calls are unchanged: no CSRF token needed, the cookie is not consulted.
    client.cookies.clear()
    bearer = client.post("/probe", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.json() == {"user": "eve"}


def test_a_revoked_key_ends_its_sessions(client: TestClient, keys: FakeKeys) -> None:
    _sign_in(client)
    keys.revoked = True
    answer = client.get("/probe")
    assert answer.status_code == 401 and "sign in again" in answer.json()["title"]
    keys.revoked = False  # the session is gone for good, not only while the key is revoked
    assert client.get("/probe").status_code == 401


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    token = _sign_in(client)
    cookie = client.cookies[COOKIE_NAME]
    assert client.post("/web/logout", follow_redirects=False).status_code == 403
    out = client.post("/web/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert COOKIE_NAME not in client.cookies
    replay = client.get("/probe", cookies={COOKIE_NAME: cookie})
    assert replay.status_code == 401


def test_a_cross_site_login_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/web/login",
        data={"api_key": KEY},
        headers={"Origin": "http://evil.test"},
        follow_redirects=False,
    )
    assert answer.status_code == 403 and COOKIE_NAME not in answer.cookies


def test_an_anonymous_trial_still_takes_a_session(keys: FakeKeys) -> None:
    trial = Settings(api={"auth_required": False})
    app = create_app(trial, lambda _s: nullcontext(None))
    app.dependency_overrides[dependencies.authenticator] = lambda: keys

    @app.get("/probe")
    def _probe(request: Request) -> dict[str, str]:
        return {"user": resolve_caller(request, trial, keys).user_id}

    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/probe").json() == {"user": "anonymous"}
        _sign_in(client)
        assert client.get("/probe").json() == {"user": "eve"}


def test_without_a_client_id_the_provider_sign_in_is_off(client: TestClient) -> None:
    assert client.get("/web/oidc/login", follow_redirects=False).status_code == 404
    assert client.get("/web/oidc/callback?code=x&state=y").status_code == 404
    assert client.get("/web/session").json()["oidc_enabled"] is False


def test_a_client_id_needs_an_issuer_and_endpoints_must_be_urls() -> None:
    with pytest.raises(ConfigError, match="client_id"):
        Settings.load(api={"oidc": {"client_id": "web"}})
    oidc = {"issuer": "https://idp.test", "audience": "api", "jwks_url": "https://idp.test/k"}
    with pytest.raises(ConfigError, match="token_endpoint"):
        Settings.load(api={"oidc": {**oidc, "client_id": "web", "token_endpoint": "idp/token"}})
    with pytest.raises(ConfigError, match="32 characters"):
        Settings.load(web={"session_secret": "short"})
    assert Settings.load(api={"oidc": {**oidc, "client_id": "web"}}).api.oidc.login_enabled


def test_an_id_token_must_be_for_the_client_and_carry_the_sign_ins_nonce(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    issuer = "https://idp.test"
    verifier = JwtAuthenticator(
        OidcSettings(issuer=issuer, audience="api", jwks_file=tmp_path / "jwks.json")
    )

    def id_token(**claims: object) -> str:
        now = int(time.time())
        payload = {"iss": issuer, "aud": "web", "sub": "hana", "exp": now + 60, **claims}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})

    good = id_token(nonce="n-1", groups=["hr"])
    found = verifier.authenticate_id_token(good, client_id="web", nonce="n-1")
    assert found == Principal(user_id="hana", groups=("hr",))
    for token, nonce, reason in (
        (good, "n-2", "nonce"),
        (id_token(), "n-1", "nonce"),
        (id_token(nonce="n-1", aud="api"), "n-1", "another audience"),
        (id_token(nonce="n-1", iss="https://other.test"), "n-1", "another issuer"),
    ):
        with pytest.raises(AuthenticationError, match=reason):
            verifier.authenticate_id_token(token, client_id="web", nonce=nonce)
    # An ID token is not an access token for the API (its audience is the web client).
    with pytest.raises(AuthenticationError, match="another audience"):
        verifier.authenticate(good)
