"""The error → HTTP mapping (``api/http/problems.py``): every error class of ours answers a
deliberate status; client errors (4xx) keep their message, server faults (5xx) and unexpected
exceptions answer a generic problem with no internal text, logged under a request id. The
last tests go through the real app and its routes (request validation, the answer stream, the
raise sites that used to be plain ``ValueError``s)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

import api.http.oidc
import api.http.oidc_login
import evals.backends
import evals.dataset
import evals.judge_data
import evals.retrieval_eval
import generation.model_store
from api.http import problems
from api.http.app import create_app
from api.http.auth import AuthenticationError
from api.http.dependencies import (
    answer_log,
    answer_service,
    document_service,
    principal,
    searcher,
)
from api.http.document_routes import AclUpdate
from core.errors import (
    CitewiseError,
    ConfigError,
    DocumentError,
    EmptyDocumentError,
    IndexStoreError,
    InvalidInputError,
    MissingToolError,
    ModelLoadError,
    NotFoundError,
    ParseError,
    RegistryError,
    StoreLockedError,
    TooLargeError,
    UnsupportedFormatError,
)
from core.models import PUBLIC_GROUP, Principal
from core.settings import Settings
from generation.answer import SourcesEvent
from generation.errors import GenerationError, PromptTooLongError

SECRET = "postgresql://citewise:hunter2@10.0.0.5/db failed in /srv/citewise/store.py"
"""Internal text that must never reach a client."""

CLIENT_ERRORS: list[tuple[CitewiseError, int, str]] = [
    (AuthenticationError("token has expired"), 401, "AuthenticationError"),
    (NotFoundError("no document d1"), 404, "NotFoundError"),
    (TooLargeError("upload is over the 5 MB limit"), 413, "TooLargeError"),
    (PromptTooLongError("the prompt needs 9000 tokens"), 413, "PromptTooLongError"),
    (UnsupportedFormatError("unsupported file type (PNG)"), 415, "UnsupportedFormatError"),
    (InvalidInputError("the question is empty"), 422, "Invalid request"),
    (EmptyDocumentError("notes.md is empty (0 bytes)"), 422, "EmptyDocumentError"),
    (ParseError("corrupt PDF"), 422, "ParseError"),
]

SERVER_FAULTS: list[tuple[BaseException, int]] = [
    (IndexStoreError(SECRET), 500),
    (IndexStoreError(SECRET, retryable=True), 503),
    (StoreLockedError(SECRET), 503),
    (GenerationError(SECRET), 500),
    (GenerationError(SECRET, retryable=True), 503),
    (ModelLoadError(SECRET), 500),
    (RegistryError(SECRET), 500),
    (RegistryError(SECRET, retryable=True), 503),
    (ConfigError(SECRET), 500),
    (generation.model_store.ModelNotInstalledError(SECRET), 500),
    (generation.model_store.ModelIntegrityError(SECRET), 500),
    (MissingToolError(SECRET), 500),
    (DocumentError(SECRET), 500),
    (api.http.oidc.JwksUnavailableError(SECRET), 503),
    (api.http.oidc_login.ProviderError(SECRET), 503),
    (evals.dataset.DatasetError(SECRET), 500),
    (evals.judge_data.LabelledDataError(SECRET), 500),
    (evals.retrieval_eval.EvalError(SECRET), 500),
    (evals.backends.BackendError(SECRET), 500),
    (CitewiseError(SECRET), 500),
    (RuntimeError(SECRET), 500),
    (ValueError(SECRET), 500),  # a bare ValueError is a bug of ours now, not the caller's
    (KeyError(SECRET), 500),
]


def _subclasses(kind: type[CitewiseError]) -> set[type[CitewiseError]]:
    found = set(kind.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_class_of_ours_has_a_deliberate_status() -> None:
    covered = {type(e) for e, _, _ in CLIENT_ERRORS} | {type(e) for e, _ in SERVER_FAULTS}
    # Test fakes may define their own; every class in the code base must be listed above.
    ours = {k for k in _subclasses(CitewiseError) if not k.__module__.startswith("tests.")}
    assert ours - covered == set()


def _app_raising(error: BaseException) -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return app


def _get(app: FastAPI, **headers: str) -> Any:
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.get("/boom", headers=headers)


@pytest.mark.parametrize(("error", "status", "title"), CLIENT_ERRORS, ids=str)
def test_a_client_error_is_4xx_with_its_message(
    error: CitewiseError, status: int, title: str
) -> None:
    response = _get(_app_raising(error))
    assert response.status_code == status
    assert response.headers["content-type"] == problems.PROBLEM
    body = response.json()
    assert body == {"type": "about:blank", "title": title, "status": status, "detail": str(error)}
    assert problems.status_of(error) == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(("error", "status"), SERVER_FAULTS, ids=lambda v: repr(v)[:40])
def test_a_server_fault_is_5xx_without_internal_detail(
    error: BaseException, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger=problems.__name__):
        response = _get(_app_raising(error))
    assert response.status_code == status
    assert response.headers["content-type"] == problems.PROBLEM
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "request_id"}
    assert body["title"] == ("Service Unavailable" if status == 503 else "Internal Server Error")
    for internal in ("hunter2", "10.0.0.5", "/srv", type(error).__name__):
        assert internal not in response.text
    # The details are in the server's log, under the id the client was given.
    assert response.headers["x-request-id"] == body["request_id"]
    [record] = [r for r in caplog.records if r.name == problems.__name__]
    assert record.__dict__["request_id"] == body["request_id"]
    assert "hunter2" in record.getMessage() and record.exc_info is not None


def test_an_unexpected_exception_is_a_generic_500() -> None:
    response = _get(_app_raising(RuntimeError("KeyError in _fuse at line 212")))
    assert response.status_code == 500
    assert response.json()["detail"] == "the server failed to answer; the failure is logged"
    assert "_fuse" not in response.text and "RuntimeError" not in response.text


def test_the_clients_request_id_is_kept_when_it_is_a_plain_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger=problems.__name__):
        response = _get(_app_raising(GenerationError(SECRET)), **{"X-Request-ID": "req-42"})
    assert response.json()["request_id"] == "req-42"
    assert [r.__dict__["request_id"] for r in caplog.records] == ["req-42"]
    forged = _get(_app_raising(GenerationError(SECRET)), **{"X-Request-ID": "a b\tc"})
    assert forged.json()["request_id"] != "a b\tc"


def test_an_http_exception_keeps_its_status() -> None:
    response = _get(_app_raising(HTTPException(403, "managing documents needs the admins group")))
    assert response.status_code == 403
    assert response.json()["title"] == "managing documents needs the admins group"


# --- Through the real app -------------------------------------------------------------------

EVE = Principal(user_id="eve", groups=(PUBLIC_GROUP, "admins"), tenant="default")


class _FailingAnswers:
    """An answer service whose backend fails with internal detail."""

    def __init__(self, error: CitewiseError) -> None:
        self.error = error

    def answer(self, question: str, _: Principal, **__: object) -> None:
        if not question.strip():
            raise InvalidInputError("the question is empty")
        raise self.error

    def stream(self, question: str, _: Principal, **__: object) -> Iterator[object]:
        yield SourcesEvent(question=question, sources=())
        raise self.error


class _Searcher:
    def search(self, *_: object, **__: object) -> None:  # pragma: no cover - never reached
        raise AssertionError("an inverted date range must be refused before the search")


class _Documents:
    def set_acl(self, doc_id: str, acl: object) -> None:  # pragma: no cover - never reached
        raise AssertionError("an empty ACL must be refused before the service")


@contextmanager
def _client(tmp_path: Path, answers: _FailingAnswers) -> Iterator[TestClient]:
    @contextmanager
    def open_services(_: Settings) -> Iterator[None]:
        yield None

    app = create_app(Settings.load(data_dir=tmp_path), open_services)
    app.dependency_overrides[answer_service] = lambda: answers
    app.dependency_overrides[document_service] = _Documents
    app.dependency_overrides[searcher] = _Searcher
    app.dependency_overrides[answer_log] = lambda: None
    app.dependency_overrides[principal] = lambda: EVE
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_routes_answer_client_errors_and_hide_server_faults(tmp_path: Path) -> None:
    with _client(tmp_path, _FailingAnswers(IndexStoreError(SECRET))) as client:
        fault = client.post("/v1/ask", json={"question": "How much vacation?"})
        assert fault.status_code == 500 and "hunter2" not in fault.text

        empty = client.post("/v1/ask", json={"question": "   "})
        assert (empty.status_code, empty.json()["detail"]) == (422, "the question is empty")

        dates = {"modified_after": "2025-02-01", "modified_before": "2025-01-01"}
        inverted = client.post("/v1/search", json={"query": "leave", "filters": dates})
        assert inverted.status_code == 422
        assert "later than" in json.dumps(inverted.json()["errors"])

        acl = client.patch("/v1/documents/d1/acl", json={"users": [" "], "groups": []})
        assert acl.status_code == 422 and "at least one" in acl.json()["detail"]

        chat = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "q?"}]}
        )
        assert chat.status_code == 500 and "hunter2" not in chat.text


def test_a_fault_mid_stream_is_a_generic_error_event(tmp_path: Path) -> None:
    failing = _FailingAnswers(GenerationError(SECRET, retryable=True))
    with _client(tmp_path, failing) as client:
        ask = client.post(
            "/v1/ask", json={"question": "q?"}, headers={"Accept": "text/event-stream"}
        )
        chat = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "q?"}], "stream": True},
        )
    assert "event: error" in ask.text and "Service Unavailable" in ask.text
    assert '"error"' in chat.text and "[DONE]" in chat.text
    for text in (ask.text, chat.text):
        assert "hunter2" not in text and "GenerationError" not in text


def test_an_acl_with_no_reader_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        AclUpdate(users=[" "], groups=[]).to_acl()
