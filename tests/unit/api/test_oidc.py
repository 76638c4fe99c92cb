"""OIDC JWTs with locally generated RSA and EC keys: verification, claim mapping, the JWKS from
a file and from a real local HTTP server (caching, rotation, outage), and the settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from api.http import problems
from api.http.auth import AuthenticationError
from api.http.dependencies import Caller, authenticator, settings_of
from api.http.oidc import BearerAuthenticator, JwksUnavailableError, JwtAuthenticator
from core.errors import ConfigError
from core.models import Principal
from core.settings import OidcSettings, Settings

ISSUER = "https://idp.example.test/realms/citewise"
AUDIENCE = "citewise-api"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        found = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "RS256"
    else:
        found = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "ES256"
    return {**found, "kid": kid, "alg": alg, "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "hana", "iat": now, "exp": now + 300}
    base["groups"] = ["hr", "staff"]
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    kid: str | None = "rsa-1",
    alg: str = "RS256",
    **overrides: Any,
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def jwks_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: Any) -> Path:
    path = tmp_path / "jwks.json"
    keys = [public_jwk(rsa_key, "rsa-1"), public_jwk(ec_key, "ec-1")]
    path.write_text(json.dumps({"keys": keys}))
    return path


def oidc(**fields: Any) -> OidcSettings:
    return OidcSettings.model_validate({"issuer": ISSUER, "audience": AUDIENCE, **fields})


@pytest.fixture
def verifier(jwks_file: Path) -> JwtAuthenticator:
    return JwtAuthenticator(oidc(jwks_file=jwks_file), default_tenant="acme")


def rejected(verifier: JwtAuthenticator, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verifier.authenticate(token)
    assert token not in caught.value.message
    return caught.value.message


def test_a_valid_token_maps_to_its_user_and_groups(
    verifier: JwtAuthenticator, rsa_key: rsa.RSAPrivateKey, ec_key: Any
) -> None:
    expected = Principal(user_id="hana", groups=("hr", "staff"), tenant="acme")
    assert verifier.authenticate(sign(rsa_key)) == expected
    assert verifier.authenticate(sign(ec_key, "ec-1", "ES256")) == expected
    assert verifier.authenticate(sign(rsa_key, groups=None)).groups == ()


def test_groups_from_a_string_and_from_nested_or_namespaced_claims(
    jwks_file: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    plain = JwtAuthenticator(oidc(jwks_file=jwks_file))
    spaced = plain.authenticate(sign(rsa_key, groups="hr, finance  staff,hr"))
    assert spaced.groups == ("hr", "finance", "staff")
    keycloak = JwtAuthenticator(oidc(jwks_file=jwks_file, groups_claim="realm_access.roles"))
    token = sign(rsa_key, realm_access={"roles": ["hr", "offline_access"]})
    assert keycloak.authenticate(token).groups == ("hr", "offline_access")
    assert keycloak.authenticate(sign(rsa_key, realm_access={})).groups == ()
    namespaced = JwtAuthenticator(oidc(jwks_file=jwks_file, groups_claim="https://cw.test/g"))
    assert namespaced.authenticate(sign(rsa_key, **{"https://cw.test/g": ["hr"]})).groups == ("hr",)
    assert "neither a list" in rejected(plain, sign(rsa_key, groups={"hr": True}))
    assert "neither a list" in rejected(plain, sign(rsa_key, groups=["hr", 7]))


def test_user_and_tenant_claims(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    by_email = JwtAuthenticator(oidc(jwks_file=jwks_file, user_claim="email"))
    assert by_email.authenticate(sign(rsa_key, email="hana@example.test")).user_id == (
        "hana@example.test"
    )
    assert rejected(by_email, sign(rsa_key)) == "token lacks the user claim email"
    tenants = JwtAuthenticator(oidc(jwks_file=jwks_file, tenant_claim="org.id"))
    assert tenants.authenticate(sign(rsa_key, org={"id": "acme"})).tenant == "acme"
    # Without its tenant the caller would see every tenant's documents: refused.
    assert rejected(tenants, sign(rsa_key)) == "token lacks the tenant claim org.id"


def test_missing_user_and_required_claims(
    verifier: JwtAuthenticator, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert rejected(verifier, sign(rsa_key, sub=None)) == "token lacks the user claim sub"
    assert rejected(verifier, sign(rsa_key, sub="  ")) == "token lacks the user claim sub"
    assert rejected(verifier, sign(rsa_key, exp=None)) == "token lacks the required claim exp"


def test_time_claims_with_leeway(verifier: JwtAuthenticator, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    assert rejected(verifier, sign(rsa_key, exp=now - 120)) == "token has expired"
    assert verifier.authenticate(sign(rsa_key, exp=now - 5)).user_id == "hana"  # clock skew
    assert rejected(verifier, sign(rsa_key, nbf=now + 120)) == "token is not valid yet"
    assert verifier.authenticate(sign(rsa_key, nbf=now + 5)).user_id == "hana"


def test_issuer_and_audience(verifier: JwtAuthenticator, rsa_key: rsa.RSAPrivateKey) -> None:
    assert rejected(verifier, sign(rsa_key, iss="https://evil.test")) == (
        "token is from another issuer"
    )
    assert rejected(verifier, sign(rsa_key, aud="another-api")) == ("token is for another audience")
    assert verifier.authenticate(sign(rsa_key, aud=["another-api", AUDIENCE])).user_id == "hana"


def test_keys_that_are_not_in_the_jwks(
    verifier: JwtAuthenticator, other_key: rsa.RSAPrivateKey
) -> None:
    assert rejected(verifier, sign(other_key, "rsa-1")) == "bad signature"
    assert rejected(verifier, sign(other_key, "rsa-2")) == "unknown key id (kid)"
    assert rejected(verifier, sign(other_key, None)) == "token has no key id (kid)"
    assert rejected(verifier, "a.b.c") == "malformed token"


def test_unsigned_and_algorithm_confusion_tokens_are_rejected(
    verifier: JwtAuthenticator, rsa_key: rsa.RSAPrivateKey, ec_key: Any
) -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": "rsa-1"})
    assert unsigned.endswith(".")
    assert rejected(verifier, unsigned) == "signature algorithm not accepted"
    # HS256 keyed with the (public) RSA key: verifying it as HMAC would accept a forgery.
    # Built by hand, since PyJWT refuses to sign HMAC with a PEM key.
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert rejected(verifier, f"{header}.{body}.{b64(mac)}") == "signature algorithm not accepted"
    # An accepted algorithm, but not the one of the key the kid names: refused as well.
    assert rejected(verifier, sign(ec_key, "rsa-1", "ES256")) == "signature algorithm not accepted"


def test_unusable_jwks_files_are_config_errors(tmp_path: Path) -> None:
    for name, text in [("missing.json", None), ("bad.json", "{"), ("empty.json", '{"keys": []}')]:
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(ConfigError, match="jwks_file"):
            JwtAuthenticator(oidc(jwks_file=path))


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS that a test can change, counting GETs."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        self.body: bytes | None = None  # overrides the JWKS (a broken provider)
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.hits += 1
                body = state.body or json.dumps({"keys": state.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def server(rsa_key: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    running = JwksServer()
    running.keys = [public_jwk(rsa_key, "rsa-1")]
    yield running
    running.stop()


def test_jwks_from_a_url_is_cached_and_follows_key_rotation(
    server: JwksServer, rsa_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    remote = JwtAuthenticator(oidc(jwks_url=server.url, jwks_cache_s=2))
    assert remote.authenticate(sign(rsa_key)).user_id == "hana"
    assert remote.authenticate(sign(rsa_key)).user_id == "hana"
    assert server.hits == 1  # the second token used the cached set
    # The provider rotates: a new kid is found by one early refresh.
    server.keys = [*server.keys, public_jwk(other_key, "rsa-2")]
    assert remote.authenticate(sign(other_key, "rsa-2")).user_id == "hana"
    assert server.hits == 2
    # Made-up kids right after do not make us fetch again (the refresh cooldown).
    assert rejected(remote, sign(other_key, "ghost")) == "unknown key id (kid)"
    assert server.hits == 2
    # The old key is retired; once the cache has expired it is no longer accepted.
    server.keys = [public_jwk(other_key, "rsa-2")]
    time.sleep(2.1)
    assert rejected(remote, sign(rsa_key)) == "unknown key id (kid)"
    assert remote.authenticate(sign(other_key, "rsa-2")).user_id == "hana"
    assert server.hits >= 3


def test_an_unreachable_or_broken_jwks_url_is_retryable(
    server: JwksServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    server.body = b"<html>maintenance</html>"
    broken = JwtAuthenticator(oidc(jwks_url=server.url))
    with pytest.raises(JwksUnavailableError, match="not a usable JWKS") as caught:
        broken.authenticate(sign(rsa_key))
    assert caught.value.retryable
    server.stop()
    down = JwtAuthenticator(oidc(jwks_url=server.url))
    with pytest.raises(JwksUnavailableError, match="could not be fetched") as caught:
        down.authenticate(sign(rsa_key))
    assert caught.value.retryable and problems.status_of(caught.value) == 503


class RecordingKeys:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def authenticate(self, token: str) -> Principal | None:
        self.seen.append(token)
        return Principal(user_id="eve") if token == "cw_good" else None


def test_tokens_are_routed_by_shape(verifier: JwtAuthenticator, rsa_key: Any) -> None:
    keys = RecordingKeys()
    both = BearerAuthenticator(keys, verifier)
    assert both.authenticate("cw_good") == Principal(user_id="eve")
    assert both.authenticate(sign(rsa_key)) == Principal(
        user_id="hana", groups=("hr", "staff"), tenant="acme"
    )
    assert both.authenticate("not-a-token") is None
    assert keys.seen == ["cw_good"]  # JWTs and junk never reach the key store
    keys_only = BearerAuthenticator(keys)
    assert keys_only.authenticate(sign(rsa_key)) is None  # OIDC off: a JWT is just unknown


def test_the_http_answers(verifier: JwtAuthenticator, rsa_key: Any, tmp_path: Path) -> None:
    app = FastAPI()
    problems.install(app)
    settings = Settings.load(data_dir=tmp_path)
    tokens = BearerAuthenticator(RecordingKeys(), verifier)
    app.dependency_overrides[settings_of] = lambda: settings
    app.dependency_overrides[authenticator] = lambda: tokens

    @app.get("/me")
    def me(caller: Caller) -> dict[str, object]:
        return caller.model_dump()

    @app.get("/down")
    def down() -> None:
        raise JwksUnavailableError("the identity provider's keys could not be fetched")

    with TestClient(app) as client:
        ok = client.get("/me", headers={"Authorization": f"Bearer {sign(rsa_key)}"})
        assert ok.json() == {"user_id": "hana", "groups": ["hr", "staff"], "tenant": "acme"}
        expired = sign(rsa_key, exp=int(time.time()) - 600)
        response = client.get("/me", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"] == "token has expired"
        assert response.headers["www-authenticate"] == (
            'Bearer error="invalid_token", error_description="token has expired"'
        )
        assert expired not in response.text
        unknown = client.get("/me", headers={"Authorization": "Bearer cw_nope"})
        assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"
        unavailable = client.get("/down")
        assert unavailable.status_code == 503


def test_invalid_token_challenge_cannot_break_the_header() -> None:
    challenge = problems.invalid_token_challenge('bad "quote" \\ and\r\nnewline é')
    assert challenge == ('Bearer error="invalid_token", error_description="bad quote  andnewline "')


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"issuer": ISSUER, "jwks_url": "https://idp.test/certs"}, "audience is required"),
        ({"issuer": ISSUER, "audience": AUDIENCE}, "exactly one of"),
        (
            {
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks_url": "https://idp.test/certs",
                "jwks_file": "jwks.json",
            },
            "exactly one of",
        ),
        ({"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "file:///etc/passwd"}, "http"),
        ({"audience": AUDIENCE}, "issuer is not"),
        ({"algorithms": ["HS256"]}, "forge tokens"),
        ({"algorithms": ["none"]}, "forge tokens"),
        ({"algorithms": []}, "at least 1"),
    ],
)
def test_settings_validation(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(api={"oidc": fields})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not Settings.load().api.oidc.enabled
    monkeypatch.setenv("CITEWISE_API__OIDC__ISSUER", ISSUER)
    monkeypatch.setenv("CITEWISE_API__OIDC__AUDIENCE", AUDIENCE)
    monkeypatch.setenv("CITEWISE_API__OIDC__JWKS_FILE", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("CITEWISE_API__OIDC__ALGORITHMS", '["ES256"]')
    loaded = Settings.load().api.oidc
    assert loaded.enabled and loaded.algorithms == ("ES256",)
    assert loaded.jwks_file == tmp_path / "jwks.json"
