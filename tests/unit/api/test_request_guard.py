"""The request guard (issue 16) on an app with fake services: the caller is checked before a
body byte is read, bodies are counted as they stream whatever their headers say, and a stalled
body is answered 408. (Against a real server: tests/integration/test_hardening_http.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.dependencies import Services
from core.models import Principal
from core.settings import Settings
from generation.answer import AnswerService
from ingest.document_service import DocumentService
from retrieval.search import Searcher
from store.feedback_store import FeedbackStore

KEYS = {"reader": Principal(user_id="rita"), "admin": Principal(user_id="ada", groups=("admins",))}


class FakeAuthenticator:
    def authenticate(self, token: str) -> Principal | None:
        return KEYS.get(token)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {who}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(
        data_dir=tmp_path / "data",
        api={
            "max_json_kb": 4,
            "max_anonymous_body_kb": 1,
            "max_upload_mb": 0.01,
            "body_idle_timeout_s": 0.3,
        },
    )
    feedback = FeedbackStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}")

    @contextmanager
    def open_services(_: Settings) -> Iterator[Services]:
        yield Services(
            searcher=cast(Searcher, None),
            answers=cast(AnswerService, None),
            authenticator=FakeAuthenticator(),
            feedback=feedback,
            documents=cast(DocumentService, None),
        )

    with TestClient(create_app(settings, open_services)) as client:
        yield client
    feedback.close()


class Unread:
    """A request body that fails the test if anyone reads it."""

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("the body was read")


def test_no_body_is_read_before_the_caller_is_known(client: TestClient) -> None:
    for headers in ({}, bearer("nobody")):
        refused = client.post("/v1/search", content=Unread(), headers=headers)
        assert refused.status_code == 401
        assert refused.headers["connection"] == "close"
    upload = client.post(
        "/v1/documents",
        content=Unread(),
        headers={**bearer("reader"), "content-type": "multipart/form-data; boundary=x"},
    )
    assert upload.status_code == 403


def test_bodies_are_counted_as_they_stream(client: TestClient) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 512):
            yield b"x" * 512

    # No Content-Length at all (chunked): still counted.
    too_big = client.post("/v1/feedback", content=chunks(8192), headers=bearer("reader"))
    assert too_big.status_code == 413
    assert "api.max_json_kb" in too_big.json()["title"]
    assert too_big.headers["connection"] == "close"
    # Under the limit, the route decides (here: not JSON, 422).
    small = client.post("/v1/feedback", content=chunks(2048), headers=bearer("reader"))
    assert small.status_code == 422
    # An admin's upload has the upload limit (10 KB here), not the JSON one.
    form = {"content-type": "multipart/form-data; boundary=x", **bearer("admin")}
    assert client.post("/v1/documents", content=chunks(90_000), headers=form).status_code == 413


def test_bodies_without_credentials_outside_v1_have_the_small_limit(client: TestClient) -> None:
    # The web sign-in form takes a body without credentials.
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused = client.post("/web/login", content=b"api_key=" + b"x" * 2048, headers=form)
    assert refused.status_code == 413
    assert "api.max_anonymous_body_kb" in refused.json()["title"]
    small = client.post("/web/login", content=b"api_key=" + b"x" * 100, headers=form)
    assert small.status_code not in (413, 500)
    assert client.get("/healthz").status_code == 200


def test_a_stalled_body_is_answered_408(client: TestClient) -> None:
    app: Any = client.app
    sent: list[dict[str, Any]] = []
    stalled = anyio.Event()

    async def receive() -> dict[str, Any]:
        if not sent and not stalled.is_set():
            stalled.set()
            return {"type": "http.request", "body": b'{"query": ', "more_body": True}
        await anyio.sleep(30)  # the rest never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/v1/search",
        "raw_path": b"/v1/search",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"authorization", b"Bearer reader"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
    }

    async def run() -> None:
        with anyio.fail_after(10):
            await app(scope, receive, send)

    anyio.run(run)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
