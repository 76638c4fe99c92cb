"""Feedback and metrics through the real lifespan: ask with the real 0.5B model, rate the
answer by its ``answer_id``, export the feedback with the CLI, and read ``/metrics``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from api import composition
from api.cli.main import app as cli_app
from api.http.app import create_app
from core.settings import Settings
from store.key_store import ApiKeyStore

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def settings(sample_api_settings: Settings) -> Settings:
    """The ingested sample corpus (tests/integration/conftest.py), served with the 0.5B."""
    return sample_api_settings


@pytest.fixture(scope="module")
def token(settings: Settings) -> str:
    store = ApiKeyStore(settings.registry_url)
    try:
        return store.create("eve")[1]
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, composition.open_services)) as client:
        yield client


def counts(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_ask_rate_export_and_metrics(
    client: TestClient,
    settings: Settings,
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    question = "How much paid vacation do employees accrue?"
    asked = client.post("/v1/ask", json={"question": question}, headers=headers)
    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert len(answer["answer_id"]) == 32

    body = {
        "answer_id": answer["answer_id"],
        "rating": "down",
        "comment": "too short",
        "question": question,
        "answer_text": answer["text"],
    }
    rated = client.post("/v1/feedback", json=body, headers=headers)
    assert rated.status_code == 201, rated.text
    assert client.post("/v1/feedback", json=body).status_code == 401

    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "feedback.jsonl"
    exported = CliRunner().invoke(cli_app, ["feedback", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["feedback_id"] == rated.json()["feedback_id"]
    assert (row["answer_id"], row["user_id"], row["rating"]) == (answer["answer_id"], "eve", "down")
    assert (row["question"], row["answer_text"], row["comment"]) == (
        question,
        answer["text"],
        "too short",
    )

    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    requests = counts(metrics.text, "citewise_http_requests_total")
    assert requests[(("method", "POST"), ("route", "/v1/ask"), ("status", "200"))] == 1
    assert requests[(("method", "POST"), ("route", "/v1/feedback"), ("status", "201"))] == 1
    answers = counts(metrics.text, "citewise_answers_total")
    outcome = "abstained" if answer["abstained"] else "answered"
    reason = answer["abstain_reason"] or ""
    assert answers == {(("outcome", outcome), ("reason", reason)): 1}
    # Token counts come with the answer and add up in the metrics.
    tokens = counts(metrics.text, "citewise_llm_tokens_total")
    if answer["abstained"] and answer["completion_tokens"] == 0:
        assert answer["prompt_tokens"] == answer["completion_tokens"] == 0
    else:
        assert answer["prompt_tokens"] > 100  # the grounding rules and sources alone
        assert answer["completion_tokens"] > 0
    assert tokens == {
        (("kind", "prompt"),): answer["prompt_tokens"],
        (("kind", "completion"),): answer["completion_tokens"],
    }
    jobs = counts(metrics.text, "citewise_ingest_jobs")
    assert jobs[(("state", "queued"),)] == 0
