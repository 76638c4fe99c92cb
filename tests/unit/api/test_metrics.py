"""``/metrics`` and ``/v1/feedback`` on an app whose services are fakes (no models loaded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.http.app import create_app
from api.http.dependencies import Services
from api.http.metrics import ApiMetrics
from core.models import IngestJob, JobKind, JobStatus, Principal
from core.settings import Settings
from generation.answer import AnswerService, FinalEvent
from generation.answer_types import AbstainReason, Answer
from ingest.document_service import DocumentService
from retrieval.search import Searcher
from store.feedback_store import FeedbackStore
from store.review_store import ReviewStore

GOOD = {"Authorization": "Bearer good"}


class FakeAuthenticator:
    def authenticate(self, token: str) -> Principal | None:
        return Principal(user_id="eve") if token == "good" else None


class _NoJobs:
    def job_counts(self) -> dict[JobStatus, int]:
        return dict.fromkeys(JobStatus, 0)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    feedback = FeedbackStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    yield feedback
    feedback.close()


def app_with(
    tmp_path: Path,
    store: FeedbackStore,
    reviews: ReviewStore[Answer] | None = None,
    **api: object,
) -> TestClient:
    settings = Settings.load(data_dir=tmp_path / "data", api=api)

    @contextmanager
    def open_services(_: Settings) -> Iterator[Services]:
        yield Services(
            searcher=cast(Searcher, None),
            answers=cast(AnswerService, None),
            authenticator=FakeAuthenticator(),
            feedback=store,
            documents=cast(DocumentService, _NoJobs()),
            reviews=reviews,
        )

    return TestClient(create_app(settings, open_services))


def test_requests_are_counted_by_route_template(tmp_path: Path, store: FeedbackStore) -> None:
    with app_with(tmp_path, store) as client:
        client.get("/healthz")
        client.get("/healthz")
        client.get("/no/such/path/123")
        client.post("/v1/feedback", json={"answer_id": "a1", "rating": "up"})  # no key: 401
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts = samples(response.text, "citewise_http_requests_total")
    assert counts[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] == 2
    assert counts[(("method", "GET"), ("route", "<unmatched>"), ("status", "404"))] == 1
    assert counts[(("method", "POST"), ("route", "/v1/feedback"), ("status", "401"))] == 1
    assert not any("/no/such" in dict(k)["route"] for k in counts)
    latency = samples(response.text, "citewise_http_request_duration_seconds_count")
    assert latency[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] == 2


def test_each_app_has_its_own_registry(tmp_path: Path, store: FeedbackStore) -> None:
    with app_with(tmp_path, store) as first:
        first.get("/healthz")
    with app_with(tmp_path, store) as second:
        text = second.get("/metrics").text
    assert not samples(text, "citewise_http_requests_total").get(
        (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    )


def test_metrics_can_require_a_key(tmp_path: Path, store: FeedbackStore) -> None:
    with app_with(tmp_path, store, metrics_public=False) as client:
        assert client.get("/metrics").status_code == 401
        ok = client.get("/metrics", headers=GOOD)
        assert ok.status_code == 200


def test_feedback_is_stored_with_the_caller(tmp_path: Path, store: FeedbackStore) -> None:
    reviews = ReviewStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}", Answer.model_validate_json)
    reviews.record(Answer(answer_id="a1", question="Q?", text="A."), Principal(user_id="eve"), "Q?")
    theirs = Answer(answer_id="b2", question="Q?", text="B.")
    reviews.record(theirs, Principal(user_id="mallory"), "Q?")
    with app_with(tmp_path, store, reviews) as client:
        body = {"answer_id": "a1", "rating": "down", "comment": "stale", "question": "made up"}
        response = client.post("/v1/feedback", json=body, headers=GOOD)
        assert response.status_code == 201, response.text
        # Someone else's answer, or one never given: the same 404, nothing stored.
        for foreign in ("b2", "never-served"):
            refused = client.post(
                "/v1/feedback", json={"answer_id": foreign, "rating": "up"}, headers=GOOD
            )
            assert refused.status_code == 404, refused.text
        feedback_id = response.json()["feedback_id"]
        for bad in [
            {"answer_id": "a1", "rating": "meh"},
            {"answer_id": "", "rating": "up"},
            {"answer_id": "a1", "rating": "up", "comment": "x" * 2001},
            {"answer_id": "a1", "rating": "up", "extra": 1},
        ]:
            refused = client.post("/v1/feedback", json=bad, headers=GOOD)
            assert refused.status_code == 422, bad
    (stored,) = store.list_feedback()
    assert (stored.feedback_id, stored.user_id, stored.answer_id) == (feedback_id, "eve", "a1")
    assert (stored.rating, stored.comment, stored.question) == ("down", "stale", "Q?")
    reviews.close()


def test_feedback_is_refused_without_an_answer_log(tmp_path: Path, store: FeedbackStore) -> None:
    with app_with(tmp_path, store) as client:
        response = client.post(
            "/v1/feedback", json={"answer_id": "a1", "rating": "up"}, headers=GOOD
        )
    assert response.status_code == 503
    assert "answer log" in response.json()["title"]
    assert store.list_feedback() == []


def test_answers_are_counted_by_outcome() -> None:
    metrics = ApiMetrics()
    metrics.observe_answer(Answer(question="q", text="a"))
    abstained = Answer(
        question="q", text="no", abstained=True, abstain_reason=AbstainReason.WEAK_RETRIEVAL
    )
    assert list(metrics.observe_events(iter([FinalEvent(abstained)]))) == [FinalEvent(abstained)]
    counts = samples(metrics.render().decode(), "citewise_answers_total")
    assert counts == {
        (("outcome", "answered"), ("reason", "")): 1,
        (("outcome", "abstained"), ("reason", "weak_retrieval")): 1,
    }


def test_answers_have_distinct_ids() -> None:
    first, second = Answer(question="q", text="a"), Answer(question="q", text="a")
    assert len(first.answer_id) == 32 and first.answer_id != second.answer_id


def test_tokens_and_jobs_are_counted() -> None:
    metrics = ApiMetrics()
    metrics.observe_answer(Answer(question="q", text="a", prompt_tokens=300, completion_tokens=20))
    metrics.observe_answer(Answer(question="q", text="b", prompt_tokens=100, completion_tokens=5))
    now = datetime.now(UTC)
    for kind, status in [("upload", "done"), ("upload", "failed"), ("upload", "done")]:
        job = IngestJob(
            job_id="j",
            kind=JobKind(kind),
            status=JobStatus(status),
            doc_id="d",
            submitted_by="ada",
            created_at=now,
        )
        metrics.observe_job(job, 1.5)
    metrics.set_ingest_jobs("queued", 4)
    text = metrics.render().decode()
    assert samples(text, "citewise_llm_tokens_total") == {
        (("kind", "prompt"),): 400,
        (("kind", "completion"),): 25,
    }
    assert samples(text, "citewise_ingest_jobs_finished_total") == {
        (("kind", "upload"), ("status", "done")): 2,
        (("kind", "upload"), ("status", "failed")): 1,
    }
    assert samples(text, "citewise_ingest_job_duration_seconds_count") == {(("kind", "upload"),): 3}
    assert samples(text, "citewise_ingest_jobs") == {(("state", "queued"),): 4}
