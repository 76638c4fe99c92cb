"""OIDC JWTs through the HTTP API (FastAPI's httpx-based TestClient, real lifespan): the
sample corpus with its HR-only documents, tokens signed with a locally generated RSA key whose
JWKS the app reads from a file, and API keys still working beside them in the same app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from api import composition
from api.http.app import create_app
from core.settings import Settings
from store.key_store import ApiKeyStore

pytestmark = [pytest.mark.model, pytest.mark.slow]

ISSUER = "https://idp.example.test/realms/citewise"
AUDIENCE = "citewise-api"
SALARY = {"query": "salary band L3 software engineer", "k": 10}


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def settings(
    sample_api_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    signing_key: rsa.RSAPrivateKey,
) -> Settings:
    jwks = tmp_path_factory.mktemp("oidc") / "jwks.json"
    key = RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    jwks.write_text(json.dumps({"keys": [{**key, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    oidc = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": str(jwks)}
    return Settings.load(
        data_dir=sample_api_settings.data_dir,
        ingest={"workers": 0},
        llm={"model": sample_api_settings.llm.model},
        api={"oidc": oidc, "display_roots": list(sample_api_settings.api.display_roots)},
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, composition.open_services)) as client:
        yield client


def bearer(signing_key: rsa.RSAPrivateKey, **claims: Any) -> dict[str, str]:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
    token = jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": "k1"})
    return {"Authorization": f"Bearer {token}"}


def test_a_jwt_carries_the_callers_groups_into_search(
    client: TestClient, signing_key: rsa.RSAPrivateKey
) -> None:
    hr = client.post(
        "/v1/search", json=SALARY, headers=bearer(signing_key, sub="hana", groups=["hr"])
    )
    staff = client.post(
        "/v1/search", json=SALARY, headers=bearer(signing_key, sub="eve", groups="staff")
    )
    assert hr.status_code == staff.status_code == 200, (hr.text, staff.text)
    assert hr.json()["results"][0]["source_uri"].endswith("hr/salary-bands.md")
    assert not any("salary-bands" in r["source_uri"] for r in staff.json()["results"])
    assert "128,000" not in staff.text


def test_a_rejected_jwt_is_401_problem_json_with_the_reason(
    client: TestClient, signing_key: rsa.RSAPrivateKey
) -> None:
    expired = bearer(signing_key, sub="hana", groups=["hr"], exp=int(time.time()) - 600)
    response = client.post("/v1/search", json=SALARY, headers=expired)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "token has expired"
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="token has expired"'
    )
    assert expired["Authorization"].removeprefix("Bearer ") not in response.text
    other = client.post("/v1/search", json=SALARY, headers=bearer(signing_key, aud="other"))
    assert other.status_code == 401 and other.json()["detail"] == "token is for another audience"


def test_api_keys_still_work_beside_jwts(client: TestClient, settings: Settings) -> None:
    store = ApiKeyStore(settings.registry_url)
    try:
        token = store.create("hana", ["hr"])[1]
    finally:
        store.close()
    response = client.post("/v1/search", json=SALARY, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["results"][0]["source_uri"].endswith("hr/salary-bands.md")
    unknown = client.post("/v1/search", json=SALARY, headers={"Authorization": "Bearer cw_no"})
    assert unknown.status_code == 401 and unknown.json()["title"] == "invalid or revoked API key"
