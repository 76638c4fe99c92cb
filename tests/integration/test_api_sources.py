"""Opening a source over HTTP (``/v1/chunks/{id}``, ``/v1/documents/{id}/file``) and the web
app's pages, on the ingested sample corpus: what a reader may not read answers 404, pages
redirect to sign in, the documents page is for admins, every page sends its CSP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from api import composition
from api.http.app import create_app
from core.ids import document_id
from core.settings import Settings
from store.audit_store import AuditAction, AuditEvent
from store.key_store import ApiKeyStore

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def settings(sample_api_settings: Settings) -> Settings:
    return sample_api_settings


@pytest.fixture(scope="module")
def corpus(settings: Settings) -> Path:
    return settings.data_dir.parent / "corpus"


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    store = ApiKeyStore(settings.registry_url)
    try:
        return {
            "employee": store.create("eve")[1],
            "hr": store.create("hana", ["hr"])[1],
            "admin": store.create("ada", [settings.api.admin_group])[1],
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, composition.open_services)) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_rows(settings: Settings, user: str, action: AuditAction) -> list[AuditEvent]:
    """What the audit log holds of ``user``'s ``action``s (one test's reads only)."""
    with closing(composition.build_audit_store(settings)) as audit:
        return audit.events(user_id=user, actions=[action])


def first_hit(client: TestClient, token: str, query: str, doc_id: str) -> dict[str, object]:
    found = client.post("/v1/search", json={"query": query, "k": 20}, headers=auth(token))
    assert found.status_code == 200, found.text
    return next(h for h in found.json()["results"] if h["doc_id"] == doc_id)


def test_a_chunk_comes_with_its_neighbours_under_the_readers_acl(
    client: TestClient, keys: dict[str, str], corpus: Path, settings: Settings
) -> None:
    leave = document_id((corpus / "policies" / "leave-policy.md").resolve().as_uri())
    hit = first_hit(client, keys["employee"], "paid vacation per month", leave)
    got = client.get(f"/v1/chunks/{hit['chunk_id']}?neighbours=1", headers=auth(keys["employee"]))
    assert got.status_code == 200, got.text
    chunk = got.json()
    assert chunk["doc_id"] == leave and chunk["title"] == hit["title"]
    assert "1.75" in chunk["text"] and chunk["file_type"] == "md"
    assert not chunk["source_uri"].startswith("file:")  # a reader sees a display path
    ordinals = [c["ordinal"] for c in chunk["before"]] + [c["ordinal"] for c in chunk["after"]]
    assert ordinals and all(abs(o - chunk["ordinal"]) == 1 for o in ordinals)
    more = client.get(f"/v1/chunks/{hit['chunk_id']}?neighbours=3", headers=auth(keys["admin"]))
    assert len(more.json()["before"]) + len(more.json()["after"]) >= len(ordinals)
    assert more.json()["source_uri"].startswith("file:")  # an admin sees the stored URI
    opened = audit_rows(settings, "eve", AuditAction.SOURCE_OPEN)
    assert [(r.doc_ids, r.chunk_ids[len(chunk["before"])]) for r in opened] == [
        ((leave,), hit["chunk_id"])
    ]
    assert set(opened[0].chunk_ids) == {hit["chunk_id"]} | {
        c["chunk_id"] for c in chunk["before"] + chunk["after"]
    }
    too_many = client.get(f"/v1/chunks/{hit['chunk_id']}?neighbours=9", headers=auth(keys["hr"]))
    assert too_many.status_code == 422
    assert client.get(f"/v1/chunks/{hit['chunk_id']}").status_code == 401

    bands = document_id((corpus / "hr" / "salary-bands.md").resolve().as_uri())
    secret = first_hit(client, keys["hr"], "salary band L3 Software Engineer", bands)
    url = f"/v1/chunks/{secret['chunk_id']}"
    assert client.get(url, headers=auth(keys["hr"])).status_code == 200
    hidden = client.get(url, headers=auth(keys["employee"]))
    assert hidden.status_code == 404 and "128,000" not in hidden.text
    assert client.get("/v1/chunks/no-such-chunk", headers=auth(keys["hr"])).status_code == 404


def test_the_original_file_is_served_only_to_its_readers_and_only_unchanged(
    client: TestClient, keys: dict[str, str], corpus: Path, settings: Settings
) -> None:
    pdf = corpus / "it" / "it-handbook.pdf"
    handbook = document_id(pdf.resolve().as_uri())
    got = client.get(f"/v1/documents/{handbook}/file", headers=auth(keys["employee"]))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-security-policy"] == "sandbox"
    assert got.content == pdf.read_bytes()
    served = audit_rows(settings, "eve", AuditAction.FILE_OPEN)
    assert [r.doc_ids for r in served] == [(handbook,)]

    bands = corpus / "hr" / "salary-bands.md"
    secret = f"/v1/documents/{document_id(bands.resolve().as_uri())}/file"
    assert client.get(secret, headers=auth(keys["employee"])).status_code == 404
    assert client.get(secret, headers=auth(keys["hr"])).status_code == 200
    missing = client.get("/v1/documents/not-a-document/file", headers=auth(keys["hr"]))
    assert missing.status_code == 404

    notes = corpus / "policies" / "vendor-notes.md"
    notes_url = f"/v1/documents/{document_id(notes.resolve().as_uri())}/file"
    original = notes.read_bytes()
    notes.write_bytes(original + b"\nchanged after ingestion\n")
    try:  # the citations point into the ingested version, not this one
        changed = client.get(notes_url, headers=auth(keys["employee"]))
        assert changed.status_code == 404 and "changed" in changed.json()["detail"]
    finally:
        notes.write_bytes(original)
    assert client.get(notes_url, headers=auth(keys["employee"])).status_code == 200


def test_pages_redirect_to_sign_in_and_documents_are_for_admins(
    client: TestClient, keys: dict[str, str]
) -> None:
    away = client.get("/search", follow_redirects=False)
    assert away.status_code == 303
    assert urlparse(away.headers["location"]).path == "/login"
    login = client.get("/login?error=invalid")
    assert login.status_code == 200 and "not valid" in login.text
    assert "script-src 'self'" in login.headers["content-security-policy"]
    for path in ("/", "/search"):
        page = client.get(path, headers=auth(keys["employee"]))
        assert page.status_code == 200 and "eve" in page.text
        assert "unsafe-inline" not in page.headers["content-security-policy"]
    refused = client.get("/documents", headers=auth(keys["employee"]))
    assert refused.status_code == 403 and "Not allowed" in refused.text
    admin = client.get("/documents", headers=auth(keys["admin"]))
    assert admin.status_code == 200 and 'id="upload-form"' in admin.text
    script = client.get("/static/js/ask.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/static/vendor/pdfjs/pdf.min.mjs").status_code == 200
