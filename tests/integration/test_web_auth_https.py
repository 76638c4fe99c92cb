"""The session cookie's ``Secure`` flag as real servers send it: uvicorn over TLS on loopback
(a certificate generated here), and plain HTTP behind a "proxy" whose ``X-Forwarded-Proto``
uvicorn trusts or does not (``forwarded_allow_ips``). The sign-in checks keys in a real key
store (SQLite); no model is loaded: the app's only service here is that authenticator."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.http import dependencies
from api.http.app import create_app
from api.http.web_session import COOKIE_NAME
from core.settings import Settings
from store.key_store import ApiKeyStore
from tests.live_server import serve_in_thread


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiKeyStore]:
    store = ApiKeyStore(f"sqlite:///{tmp_path_factory.mktemp('keys') / 'registry.sqlite3'}")
    yield store
    store.close()


@contextmanager
def serving(keys: ApiKeyStore, **config: Any) -> Iterator[int]:
    """A real uvicorn server for the sign-in routes on a free loopback port."""
    app = create_app(Settings(), lambda _s: nullcontext(None))
    app.dependency_overrides[dependencies.authenticator] = lambda: keys
    with serve_in_thread(app, timeout_s=30, **config) as port:
        yield port


def _session_cookie(response: httpx.Response) -> SimpleCookie:
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    cookie = SimpleCookie(response.headers["set-cookie"])
    assert COOKIE_NAME in cookie
    return cookie


def test_over_https_the_cookie_is_secure(keys: ApiKeyStore, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    _, token = keys.create("eve", ["staff"])
    with (
        serving(keys, ssl_certfile=str(cert), ssl_keyfile=str(key)) as port,
        httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=str(cert)) as client,
    ):
        signed_in = client.post("/web/login", data={"api_key": token})
        cookie = _session_cookie(signed_in)[COOKIE_NAME]
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "lax"
        info = client.get("/web/session")
        assert info.status_code == 200 and info.json()["user_id"] == "eve"


@pytest.mark.parametrize(("trusted", "secure"), [("127.0.0.1", True), ("10.9.9.9", False)])
def test_behind_a_proxy_only_a_trusted_forwarded_proto_makes_it_secure(
    keys: ApiKeyStore, trusted: str, secure: bool
) -> None:
    _, token = keys.create("eve", ["staff"])
    with (
        serving(keys, proxy_headers=True, forwarded_allow_ips=trusted) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as proxy,
    ):
        signed_in = proxy.post(
            "/web/login",
            data={"api_key": token},
            headers={"X-Forwarded-Proto": "https", "Origin": f"https://127.0.0.1:{port}"},
        )
        cookie = _session_cookie(signed_in)[COOKIE_NAME]
        assert bool(cookie["secure"]) is secure
