"""The review queue end to end over HTTP, on real SQLite and PostgreSQL stores: answers served
by ``/v1/ask`` (JSON and SSE) and ``/v1/chat/completions`` (JSON and streamed) are logged,
feedback links to them, the queue fills, a reviewer marks answers and exports them as
evaluation examples and judge pairs. Most tests serve hand-built answers; the last one runs
the real answer service (retrieval, grounding check, withholding) with a scripted model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.dependencies import Services
from core.models import Acl, Principal
from core.settings import Settings
from evals.dataset import EvalExample
from generation.abstention import AbstentionPolicy
from generation.answer import (
    AnswerOptions,
    AnswerService,
    DeltaEvent,
    FinalEvent,
    GeneratorTokenCounter,
)
from generation.answer_types import Answer
from generation.finalize import AnswerChecker
from generation.grounding import LexicalEmbeddingJudge
from generation.prompting import PromptBuilder
from ingest.document_service import DocumentService
from retrieval.context import ContextAssembler
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.search import Searcher
from store.feedback_store import FeedbackStore
from store.key_store import ApiKeyStore
from store.review_store import ReviewStore
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator, one_chunk_index
from tests.unit.store.test_review_store import abstained_answer, plain_answer, withheld_answer

ANSWERS: dict[str, Callable[[], Answer]] = {
    "vacation?": withheld_answer,
    "meals?": plain_answer,
    "parental leave?": abstained_answer,
}


class FakeAnswers:
    """Answers each known question with a fresh hand-built answer (a new ``answer_id``)."""

    def answer(self, question: str, _: Principal, **__: object) -> Answer:
        return ANSWERS[question]()

    def stream(
        self, question: str, principal: Principal, **kwargs: object
    ) -> Iterator[DeltaEvent | FinalEvent]:
        answer = self.answer(question, principal, **kwargs)
        yield DeltaEvent(answer.model_text or answer.text)
        yield FinalEvent(answer)


class Env:
    def __init__(
        self, client: TestClient, reviews: ReviewStore[Answer], user: str, admin: str
    ) -> None:
        self.client, self.reviews = client, reviews
        self.user = {"Authorization": f"Bearer {user}"}
        self.admin = {"Authorization": f"Bearer {admin}"}


@contextmanager
def serving(url: str, data_dir: Path, answers: object | None = None) -> Iterator[Env]:
    keys, feedback, reviews = (
        ApiKeyStore(url),
        FeedbackStore(url),
        ReviewStore(url, Answer.model_validate_json),
    )
    _, user = keys.create("alice", ["public"], tenant="acme")
    _, admin = keys.create("rita", ["public", "admins"])

    @contextmanager
    def open_services(_: Settings) -> Iterator[Services]:
        yield Services(
            searcher=cast(Searcher, None),
            answers=cast(AnswerService, answers or FakeAnswers()),
            authenticator=keys,
            feedback=feedback,
            documents=cast(DocumentService, None),
            reviews=reviews,
        )

    settings = Settings.load(data_dir=data_dir, api={"admin_group": "admins"})
    try:
        with TestClient(create_app(settings, open_services)) as client:
            yield Env(client, reviews, user, admin)
    finally:
        for store in (keys, feedback, reviews):
            store.close()


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    with serving(database_url, tmp_path / "data") as env:
        yield env


def sse_answer(text: str) -> dict[str, Any]:
    event = None
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "answer":
            return cast(dict[str, Any], json.loads(line.split(":", 1)[1]))
    raise AssertionError(f"no answer event in {text!r}")


def chunk_answer(text: str) -> dict[str, Any]:
    for line in text.splitlines():
        if line.startswith("data:") and '"citewise": {' in line:
            return cast(dict[str, Any], json.loads(line.split(":", 1)[1])["citewise"])
    raise AssertionError(f"no citewise chunk in {text!r}")


def ndjson(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def ask(env: Env, question: str) -> str:
    asked = env.client.post("/v1/ask", json={"question": question}, headers=env.user)
    assert asked.status_code == 200, asked.text
    return cast(str, asked.json()["answer_id"])


def serve_four_ways(env: Env) -> tuple[str, str, str, str]:
    """One answer through each way the API serves them; each is logged as alice's."""
    client, user = env.client, env.user
    sse = {**user, "Accept": "text/event-stream"}
    withheld_id = ask(env, "vacation?")
    streamed = client.post("/v1/ask", json={"question": "meals?"}, headers=sse)
    meals_id = sse_answer(streamed.text)["answer_id"]
    chat = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "parental leave?"}]},
        headers=user,
    )
    assert chat.status_code == 200, chat.text
    abstained_id = chat.json()["citewise"]["answer_id"]
    chat_stream = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "meals?"}], "stream": True},
        headers=user,
    )
    quiet_id = chunk_answer(chat_stream.text)["answer_id"]
    for answer_id in (withheld_id, meals_id, abstained_id, quiet_id):
        logged = env.reviews.get(answer_id)
        assert logged.principal == Principal(user_id="alice", groups=("public",), tenant="acme")
    assert env.reviews.get(abstained_id).question == "parental leave?"
    return withheld_id, meals_id, abstained_id, quiet_id


def test_served_answers_are_queued_reviewed_and_exported(env: Env) -> None:
    client, user, admin = env.client, env.user, env.admin
    withheld_id, meals_id, abstained_id, _ = serve_four_ways(env)

    # Feedback links to the logged answer: the logged question and text are stored.
    down = {"answer_id": abstained_id, "rating": "down", "comment": "it is in the handbook"}
    rated = client.post("/v1/feedback", json={**down, "answer_text": "made up"}, headers=user)
    assert rated.status_code == 201 and rated.json()["answer_logged"] is True
    (stored,) = env.reviews.get(abstained_id).feedback
    assert (stored.question, stored.answer_text) == ("parental leave?", abstained_answer().text)
    unknown = client.post("/v1/feedback", json={**down, "answer_id": "elsewhere"}, headers=user)
    assert unknown.status_code == 404, "only answers this server gave the caller are rated"
    foreign = client.post("/v1/feedback", json=down, headers=admin)  # alice's answer
    assert foreign.status_code == 404
    client.post("/v1/feedback", json={"answer_id": meals_id, "rating": "up"}, headers=user)

    # The queue: the withheld answer and the disputed abstention, newest first.
    listed = client.get("/v1/reviews", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["reviews"]
    assert [i["answer_id"] for i in items] == [abstained_id, withheld_id]
    disputed, withheld = items
    assert disputed["abstained"] and disputed["reasons"] == ["abstained_disputed", "thumbs_down"]
    assert disputed["feedback"][0]["comment"] == "it is in the handbook"
    assert (withheld["withheld"], withheld["text"], withheld["question"]) == (
        1,
        withheld_answer().text,
        "vacation?",
    )
    assert withheld["review"] is None and withheld["user_id"] == "alice"
    detail = client.get(f"/v1/reviews/{withheld_id}", headers=admin).json()
    assert detail["answer"]["withheld"][0]["sentence"] == "Unused days double every year [1]."
    assert detail["principal"]["tenant"] == "acme"

    # Review.
    marked = client.post(
        f"/v1/reviews/{withheld_id}", json={"verdict": "correct", "note": "ok"}, headers=admin
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["review"]["reviewer_id"] == "rita"
    fixed = {
        "verdict": "incorrect",
        "source": "file:///corpus/parental-leave.md",
        "corrected_answer": "Sixteen weeks, paid.",
    }
    assert client.post(f"/v1/reviews/{abstained_id}", json=fixed, headers=admin).status_code == 200
    assert client.get("/v1/reviews", headers=admin).json()["reviews"] == []
    reviewed = client.get("/v1/reviews", params={"status": "reviewed"}, headers=admin).json()
    assert {r["answer_id"]: r["review"]["verdict"] for r in reviewed["reviews"]} == {
        withheld_id: "correct",
        abstained_id: "incorrect",
    }

    # Export.
    examples = [
        EvalExample.model_validate(row)
        for row in ndjson(client.get("/v1/reviews/export?format=examples", headers=admin))
    ]
    assert [e.id for e in examples] == [withheld_id, abstained_id]
    good, missed = examples
    assert (good.question, good.reference_answer) == (withheld_answer().question, withheld["text"])
    assert good.gold_documents == ("file:///corpus/leave policy.md",) and good.answerable
    assert good.principal.user == "alice" and good.metadata["tenant"] == "acme"
    assert missed.answerable and missed.reference_answer == "Sixteen weeks, paid."
    assert missed.gold_documents == ("file:///corpus/parental-leave.md",)
    pairs = ndjson(client.get("/v1/reviews/export?format=judge-pairs", headers=admin))
    assert pairs == [
        {
            "claim": withheld_answer().text,
            "evidence": "Employees accrue 1.75 days per month.",
            "label": "supported",
            "answer_id": withheld_id,
        }
    ]


ROUTES: Sequence[tuple[str, str, dict[str, Any] | None]] = (
    ("GET", "/v1/reviews", None),
    ("GET", "/v1/reviews?status=reviewed", None),
    ("GET", "/v1/reviews/export?format=examples", None),
    ("GET", "/v1/reviews/export?format=judge-pairs", None),
    ("GET", "/v1/reviews/{id}", None),
    ("POST", "/v1/reviews/{id}", {"verdict": "correct"}),
)


def test_every_review_route_is_for_admins_only(env: Env) -> None:
    answer_id = ask(env, "vacation?")
    for method, path, body in ROUTES:
        url = path.replace("{id}", answer_id)
        forbidden = env.client.request(method, url, json=body, headers=env.user)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        assert env.client.request(method, url, json=body).status_code == 401
        assert env.client.request(method, url, json=body, headers=env.admin).status_code == 200
    assert env.reviews.get(answer_id).review is not None  # only the admin's mark was stored


def test_bad_reviews_are_refused(env: Env) -> None:
    answer_id = ask(env, "vacation?")
    post = env.client.post
    assert post("/v1/reviews/nope", json={"verdict": "correct"}, headers=env.admin).status_code == (
        404
    )
    for body in (
        {"verdict": "maybe"},
        {"verdict": "correct", "note": "x" * 2001},
        {"verdict": "correct", "surprise": 1},
    ):
        response = post(f"/v1/reviews/{answer_id}", json=body, headers=env.admin)
        assert response.status_code == 422, body
    assert env.client.get("/v1/reviews/nope", headers=env.admin).status_code == 404
    assert env.client.get("/v1/reviews?status=all", headers=env.admin).status_code == 422


def test_an_answer_is_served_when_the_log_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    with serving(f"sqlite:///{tmp_path / 'registry.sqlite3'}", tmp_path / "data") as env:
        with env.reviews._engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE answer_reviews")
            conn.exec_driver_sql("DROP TABLE answer_log")
        asked = env.client.post("/v1/ask", json={"question": "vacation?"}, headers=env.user)
        assert asked.status_code == 200 and asked.json()["text"] == withheld_answer().text
        sse = {**env.user, "Accept": "text/event-stream"}
        streamed = env.client.post("/v1/ask", json={"question": "meals?"}, headers=sse)
        assert sse_answer(streamed.text)["text"] == plain_answer().text


TRAVEL = (
    "Hotel costs are reimbursed up to $240 per night in major cities. "
    "Meals are covered up to $50 per day."
)
LEAVE = "Full-time employees receive 25 days of paid annual leave each year."


@pytest.fixture
def real_answers() -> Iterator[AnswerService]:
    """The real answer service (retrieval, prompt, grounding check, withholding) over an
    in-memory index, with the hashing embedder and a scripted model reply."""
    embedder, sparse = FakeEmbedder(), QdrantBm25Encoder()
    public = Acl(groups=("public",))
    index = one_chunk_index(
        [("travel.md", TRAVEL, public), ("leave.md", LEAVE, public)], tenant="acme"
    )  # alice's tenant
    reply = (
        "Hotels are reimbursed up to $240 per night in major cities [1]. "
        "Executives may claim up to $900 per night [1]."
    )
    generator = FakeGenerator([reply])
    yield AnswerService(
        Searcher(index, embedder, sparse),
        generator,
        AnswerChecker(LexicalEmbeddingJudge(embedder), embedder=embedder),
        ContextAssembler(GeneratorTokenCounter(generator), index),
        PromptBuilder(generator, answer_tokens=AnswerOptions().max_answer_tokens),
        policy=AbstentionPolicy(min_retrieval_similarity=0.2),
        options=AnswerOptions(k=3),
    )
    index.close()


def test_a_checked_answer_with_a_withheld_claim_becomes_an_eval_example(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    real_answers: AnswerService,
) -> None:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    with serving(database_url, tmp_path / "data", real_answers) as env:
        answer_id = ask(env, "What is the hotel limit per night?")
        answer = env.reviews.get(answer_id).answer
        assert answer.text == "Hotels are reimbursed up to $240 per night in major cities [1]."
        assert [w.sentence for w in answer.withheld] == [
            "Executives may claim up to $900 per night [1]."
        ]
        (queued,) = env.client.get("/v1/reviews", headers=env.admin).json()["reviews"]
        assert (queued["answer_id"], queued["reasons"], queued["withheld"]) == (
            answer_id,
            ["withheld"],
            1,
        )
        marked = env.client.post(
            f"/v1/reviews/{answer_id}", json={"verdict": "correct"}, headers=env.admin
        )
        assert marked.status_code == 200, marked.text
        (example,) = ndjson(env.client.get("/v1/reviews/export", headers=env.admin))
        assert example["question"] == "What is the hotel limit per night?"
        assert example["reference_answer"] == answer.text
        assert example["gold_documents"] == ["file:///docs/travel.md"]
        assert example["answerable"] is True
        assert example["principal"] == {"user": "alice", "groups": ["public"]}
        (pair,) = ndjson(env.client.get("/v1/reviews/export?format=judge-pairs", headers=env.admin))
        assert (pair["claim"], pair["label"]) == (answer.text, "supported")
        assert "$240 per night" in pair["evidence"]
