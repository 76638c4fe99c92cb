"""Documents and ingestion jobs through the HTTP API, with the real lifespan and job runner:
uploads of every format parsed by unstructured, embedded by the real MiniLM into qdrant-edge,
state in the SQLite registry; ACLs, deletes, limits and sniffing."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api import composition
from api.http.app import create_app
from core.settings import Settings
from store.key_store import ApiKeyStore
from tests.conftest import SAMPLE_CORPUS, postgres_database

pytestmark = [pytest.mark.model, pytest.mark.slow]

MAX_UPLOAD_MB = 1.0


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_gguf: Path
) -> Iterator[Settings]:
    """The whole module runs twice: registry and job queue on SQLite, then on PostgreSQL."""
    root = tmp_path_factory.mktemp("documents")
    with ExitStack() as stack:
        registry = {}
        if request.param == "postgres":
            registry = {"url": stack.enter_context(postgres_database())}
        yield Settings.load(
            data_dir=root / "data",
            ingest={"workers": 0},
            llm={"model": str(small_gguf)},
            api={"max_upload_mb": MAX_UPLOAD_MB},
            registry=registry,
        )


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = ApiKeyStore(settings.registry_url)
    try:
        return {
            "admin": store.create("ada", ["admins"])[1],
            "employee": store.create("eve")[1],
            "hr": store.create("hana", ["hr"])[1],
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(settings: Settings, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, composition.open_services)) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(
    client: TestClient,
    token: str,
    name: str,
    content: bytes,
    *,
    groups: tuple[str, ...] = (),
) -> httpx.Response:
    data = {"acl_groups": list(groups)} if groups else None
    return client.post(
        "/v1/documents", files={"file": (name, content)}, data=data, headers=auth(token)
    )


def wait_for(client: TestClient, token: str, job_id: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=auth(token)).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s}s: {job}")


def search(client: TestClient, token: str, query: str) -> list[dict]:
    response = client.post("/v1/search", json={"query": query, "k": 5}, headers=auth(token))
    assert response.status_code == 200, response.text
    results: list[dict] = response.json()["results"]
    return results


def generated_formats(tmp_path: Path) -> dict[str, bytes]:
    """Formats the sample corpus lacks, written by real tools in the test."""
    made = {
        "desk-phones.csv": b"Team,Extension\nHelp desk,4357\nFacilities,2210\n",
        "parking.txt": b"Visitor parking is on level minus two of the garage.\n",
    }
    pypandoc = pytest.importorskip("pypandoc")
    source = "# Travel desk\n\nThe travel desk books flights within 2 working days.\n"
    for fmt in ("epub", "rtf", "odt"):
        out = tmp_path / f"travel.{fmt}"
        pypandoc.convert_text(source, fmt, format="md", outputfile=str(out))
        made[out.name] = out.read_bytes()
    return made


def test_every_supported_format_uploads_to_done(
    client: TestClient, keys: dict[str, str], tmp_path: Path
) -> None:
    uploads = {
        p.name: p.read_bytes()
        for p in sorted(SAMPLE_CORPUS.rglob("*.*"))
        if p.suffix != ".pdf" or shutil.which("tesseract")  # the sample PDF is a scan: OCR
    }
    uploads.update(generated_formats(tmp_path))
    jobs = {}
    for name, content in uploads.items():
        response = upload(client, keys["admin"], name, content, groups=("public",))
        assert response.status_code == 202, (name, response.text)
        assert response.headers["location"] == f"/v1/jobs/{response.json()['job_id']}"
        jobs[name] = response.json()
    assert {j["status"] for j in jobs.values()} <= {"queued", "running", "done"}

    finished = {name: wait_for(client, keys["admin"], j["job_id"]) for name, j in jobs.items()}
    assert {n: j["status"] for n, j in finished.items()} == dict.fromkeys(uploads, "done")
    assert all(j["outcome"] == "added" and j["chunk_count"] > 0 for j in finished.values())
    assert all(j["started_at"] and j["finished_at"] for j in finished.values())
    types = {j["file_type"] for j in finished.values()}
    assert {"md", "html", "docx", "pptx", "xlsx", "eml", "csv", "txt", "epub", "rtf"} <= types

    hits = search(client, keys["employee"], "how fast does the travel desk book flights")
    assert any("2 working days" in h["snippet"] for h in hits)
    document = client.get(
        f"/v1/documents/{finished['travel.odt']['doc_id']}", headers=auth(keys["employee"])
    )
    assert document.status_code == 200
    assert document.json()["status"] == "indexed"
    assert document.json()["source_uri"] == "travel.odt"  # a reader sees the upload's name
    assert document.json()["content_hash"] is None


def test_a_corrupt_upload_fails_with_a_reason(client: TestClient, keys: dict[str, str]) -> None:
    response = upload(client, keys["admin"], "broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50)
    assert response.status_code == 202, response.text
    job = wait_for(client, keys["admin"], response.json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"] and "\n" not in job["error"]
    document = client.get(f"/v1/documents/{job['doc_id']}", headers=auth(keys["admin"])).json()
    assert (document["status"], document["error"]) == ("failed", job["error"])


def test_re_upload_replaces_or_keeps_the_document(client: TestClient, keys: dict[str, str]) -> None:
    first = b"# Canteen\n\nThe canteen opens at 11:30 on weekdays.\n"
    second = b"# Canteen\n\nThe canteen opens at 12:15 on weekdays.\n"
    jobs = [
        wait_for(
            client,
            keys["admin"],
            upload(client, keys["admin"], "canteen.md", content, groups=("public",)).json()[
                "job_id"
            ],
        )
        for content in (first, first, second)
    ]
    assert [j["outcome"] for j in jobs] == ["added", "unchanged", "updated"]
    assert len({j["doc_id"] for j in jobs}) == 1
    hits = search(client, keys["employee"], "when does the canteen open")
    texts = " ".join(h["snippet"] for h in hits if h["doc_id"] == jobs[0]["doc_id"])
    assert "12:15" in texts and "11:30" not in texts


def test_documents_and_jobs_follow_access(client: TestClient, keys: dict[str, str]) -> None:
    secret = b"# Relocation bonus\n\nThe relocation bonus for engineers is 7,500 euros.\n"
    job = wait_for(
        client,
        keys["admin"],
        upload(client, keys["admin"], "relocation.md", secret, groups=("hr",)).json()["job_id"],
    )
    doc_id = job["doc_id"]

    def listed(token: str) -> set[str]:
        body = client.get("/v1/documents", headers=auth(token)).json()
        return {d["doc_id"] for d in body["documents"]}

    assert doc_id in listed(keys["hr"]) and doc_id in listed(keys["admin"])
    assert doc_id not in listed(keys["employee"])
    hidden = client.get(f"/v1/documents/{doc_id}", headers=auth(keys["employee"]))
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    assert (
        client.get(f"/v1/jobs/{job['job_id']}", headers=auth(keys["employee"])).status_code == 404
    )
    assert client.get("/v1/jobs", headers=auth(keys["employee"])).status_code == 403
    assert not [
        h for h in search(client, keys["employee"], "relocation bonus") if h["doc_id"] == doc_id
    ]
    assert [h for h in search(client, keys["hr"], "relocation bonus") if h["doc_id"] == doc_id]

    # Only admins manage documents, whatever they can read.
    assert upload(client, keys["hr"], "x.md", b"# x\n\ny\n").status_code == 403
    assert client.delete(f"/v1/documents/{doc_id}", headers=auth(keys["hr"])).status_code == 403
    patch = client.patch(
        f"/v1/documents/{doc_id}/acl", json={"groups": ["public"]}, headers=auth(keys["hr"])
    )
    assert patch.status_code == 403
    assert client.post("/v1/documents", files={"file": ("x.md", b"x")}).status_code == 401

    # An ACL change is immediate and re-embeds nothing.
    patched = client.patch(
        f"/v1/documents/{doc_id}/acl", json={"groups": ["public"]}, headers=auth(keys["admin"])
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["acl"] == {"users": [], "groups": ["public"]}
    assert patched.json()["version"] == 1
    assert [
        h for h in search(client, keys["employee"], "relocation bonus") if h["doc_id"] == doc_id
    ]
    empty = client.patch(f"/v1/documents/{doc_id}/acl", json={}, headers=auth(keys["admin"]))
    assert empty.status_code == 422
    assert "at least one" in empty.json()["detail"]


def test_delete_is_a_job_that_purges_the_chunks(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    content = b"# Bike storage\n\nBikes are stored in the courtyard shed, code 4471.\n"
    added = wait_for(
        client,
        keys["admin"],
        upload(client, keys["admin"], "bikes.md", content, groups=("public",)).json()["job_id"],
    )
    doc_id = added["doc_id"]
    assert [h for h in search(client, keys["employee"], "bike shed code") if h["doc_id"] == doc_id]
    deleted = client.delete(f"/v1/documents/{doc_id}", headers=auth(keys["admin"]))
    assert deleted.status_code == 202, deleted.text
    job = wait_for(client, keys["admin"], deleted.json()["job_id"])
    assert (job["kind"], job["status"], job["outcome"]) == ("delete", "done", "deleted")
    assert job["chunk_count"] == added["chunk_count"]
    assert client.get(f"/v1/documents/{doc_id}", headers=auth(keys["admin"])).status_code == 404
    assert not [
        h for h in search(client, keys["employee"], "bike shed code") if h["doc_id"] == doc_id
    ]
    assert client.delete(f"/v1/documents/{doc_id}", headers=auth(keys["admin"])).status_code == 404
    # Staged files are gone once their jobs are over.
    assert not list((settings.data_dir / "uploads").glob("*/*"))


def test_uploads_are_limited_sniffed_and_never_used_as_paths(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    admin = keys["admin"]
    too_big = upload(client, admin, "big.txt", b"a" * int(MAX_UPLOAD_MB * 1_000_000 + 100_000))
    assert too_big.status_code == 413
    assert "api.max_upload_mb" in too_big.json()["title"]  # counted as it streamed in

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    image = upload(client, admin, "notes.md", png)
    assert image.status_code == 415
    assert "PNG" in image.json()["detail"]
    assert upload(client, admin, "tool.exe", b"MZ" + b"\x00" * 100).status_code == 415
    assert upload(client, admin, "empty.md", b"").status_code == 422

    # A PDF sent under a .docx name is parsed as what it is.
    pdf = (SAMPLE_CORPUS / "it" / "it-handbook.pdf").read_bytes()
    if shutil.which("tesseract"):
        mislabelled = wait_for(
            client,
            admin,
            upload(client, admin, "handbook.docx", pdf, groups=("public",)).json()["job_id"],
        )
        assert (mislabelled["status"], mislabelled["file_type"]) == ("done", "pdf")

    escape = upload(
        client, admin, "../../escape.md", b"# Escape\n\nNothing escapes.\n", groups=("public",)
    )
    job = wait_for(client, admin, escape.json()["job_id"])
    assert (job["status"], job["filename"]) == ("done", "escape.md")
    root = settings.data_dir.parent
    assert not [p for p in root.rglob("escape*") if settings.data_dir not in p.parents]

    # No declared length (chunked): accepted, its bytes counted as they stream (over the limit
    # it is 413 whatever its headers say: tests/integration/test_hardening_http.py).
    parts = [
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="streamed.md"\r\n\r\n',
        b"# Streamed\n\nSent without a Content-Length.\n",
        b"\r\n--x--\r\n",
    ]
    chunked = client.post(
        "/v1/documents",
        content=iter(parts),
        headers={**auth(admin), "content-type": "multipart/form-data; boundary=x"},
    )
    assert chunked.status_code == 202, chunked.text
    assert wait_for(client, admin, chunked.json()["job_id"])["status"] == "done"
