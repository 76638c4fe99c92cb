"""Quality metrics and the audit log through the real app and routes, with scripted answers
(fake answer service and searcher, no models) and the real stores on SQLite and on the local
PostgreSQL server: the metrics move as a scripted answered / abstained / withheld sequence
says, asks and searches record exactly what was shown, admin actions are recorded, only
admins read ``/v1/audit``, and no route can modify audit rows."""

from __future__ import annotations

import ast
import inspect
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import api.http
from api.http.app import create_app
from api.http.dependencies import Services
from core.models import (
    Acl,
    Chunk,
    Document,
    DocumentStatus,
    IngestJob,
    JobKind,
    JobStatus,
    Principal,
)
from core.settings import Settings
from generation.answer import AnswerEvent, AnswerService, FinalEvent, SourcesEvent
from generation.answer_types import (
    AbstainReason,
    Answer,
    Citation,
    SentenceVerdict,
    WithheldStatement,
)
from ingest.document_service import DocumentService
from retrieval.context import Source
from retrieval.query import ScoredChunk
from retrieval.search import Searcher
from store.audit_store import AuditAction, AuditStore, question_digest
from store.feedback_store import FeedbackStore
from store.review_store import ReviewStore

PEOPLE = {
    "eve": Principal(user_id="eve", groups=("public",), tenant="acme"),
    "hana": Principal(user_id="hana", groups=("public", "hr"), tenant="acme"),
    "root": Principal(user_id="root", groups=("admins",), tenant="acme"),
}


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}"}


class Keys:
    def authenticate(self, token: str) -> Principal | None:
        return PEOPLE.get(token)


def source(number: int, doc_id: str, chunk: str) -> Source:
    return Source(
        number=number,
        doc_id=doc_id,
        chunk_ids=(chunk,),
        title=doc_id,
        source_uri=f"file:///corpus/{doc_id}.md",
        text=f"text of {doc_id}",
        score=0.5,
        token_count=4,
    )


def claim(supported: bool) -> SentenceVerdict:
    return SentenceVerdict(
        sentence="A claim [1].",
        span=(0, 12),
        cited=(1,),
        supported=supported,
        score=0.5,
        reason="test",
    )


def answered(question: str, similarity: float) -> Answer:
    sources = (source(1, "leave", "c-leave-1"), source(2, "expenses", "c-exp-4"))
    citation = Citation(
        number=1, doc_id="leave", chunk_ids=("c-leave-1",), title="leave", source_uri="x"
    )
    return Answer(
        question=question,
        text="Employees accrue 20 days [1].",
        citations=(citation,),
        verdicts=(claim(True),),
        support_score=1.0,
        sources=sources,
        retrieval_similarity=similarity,
    )


def withheld(question: str) -> Answer:
    base = answered(question, 0.7)
    return base.model_copy(
        update={
            "verdicts": (claim(True), claim(False)),
            "support_score": 0.5,
            "withheld": (
                WithheldStatement(sentence="X [2].", cited=(2,), reason="unsupported"),
                WithheldStatement(sentence="Y [2].", cited=(2,), reason="unsupported"),
            ),
        }
    )


def abstained(question: str) -> Answer:
    return Answer(
        question=question,
        text="I couldn't find this in the documents.",
        abstained=True,
        abstain_reason=AbstainReason.WEAK_RETRIEVAL,
        sources=(source(1, "salary-bands", "c-hr-2"),),
        retrieval_similarity=0.12,
    )


class ScriptedAnswers:
    """Answers in the order scripted; the stream yields the same answer as a final event."""

    def __init__(self) -> None:
        self.script: list[Answer] = []

    def answer(self, question: str, principal: Principal, **_: Any) -> Answer:
        return self.script.pop(0).model_copy(update={"question": question})

    def stream(self, question: str, principal: Principal, **_: Any) -> Iterator[AnswerEvent]:
        answer = self.answer(question, principal)
        yield SourcesEvent(question, answer.sources)
        yield FinalEvent(answer)


class FakeSearcher:
    """Eve sees the public chunk; members of hr also see the HR-only one."""

    def search(self, text: str, principal: Principal, **_: Any) -> list[ScoredChunk]:
        chunks = [chunk("leave", "c-leave-1", ("public",))]
        if "hr" in principal.groups:
            chunks.append(chunk("salary-bands", "c-hr-2", ("hr",)))
        return [ScoredChunk(chunk=c, score=1.0 / (i + 1)) for i, c in enumerate(chunks)]


def chunk(doc_id: str, chunk_id: str, groups: tuple[str, ...]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc_id,
        version=1,
        ordinal=0,
        text=f"the text of {doc_id}",
        title=doc_id,
        source_uri=f"file:///corpus/{doc_id}.md",
        acl=Acl(groups=groups),
    )


class FakeDocuments:
    """Queues nothing; answers as the document service would."""

    def job_counts(self) -> dict[JobStatus, int]:
        return dict.fromkeys(JobStatus, 0)

    def _job(self, kind: JobKind, doc_id: str, caller: Principal) -> IngestJob:
        now = datetime.now(UTC)
        return IngestJob(
            job_id=f"job-{kind.value}",
            kind=kind,
            status=JobStatus.QUEUED,
            doc_id=doc_id,
            submitted_by=caller.user_id,
            created_at=now,
        )

    def upload(self, stream: Any, name: str, acl: Acl | None, caller: Principal) -> IngestJob:
        return self._job(JobKind.UPLOAD, f"doc-{name}", caller)

    def delete(self, doc_id: str, caller: Principal) -> IngestJob:
        return self._job(JobKind.DELETE, doc_id, caller)

    def set_acl(self, doc_id: str, acl: Acl) -> Document:
        now = datetime.now(UTC)
        return Document(
            doc_id=doc_id,
            source_uri="file:///corpus/x.md",
            title="x",
            content_hash="0" * 64,
            version=1,
            acl=acl,
            status=DocumentStatus.INDEXED,
            created_at=now,
            updated_at=now,
        )


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[AuditStore, ReviewStore[Answer], FeedbackStore]]:
    audit = AuditStore(database_url)
    reviews = ReviewStore(database_url, Answer.model_validate_json)
    feedback = FeedbackStore(database_url)
    yield audit, reviews, feedback
    for store in (audit, reviews, feedback):
        store.close()


@contextmanager
def serving(
    tmp_path: Path,
    stores: tuple[AuditStore, ReviewStore[Answer], FeedbackStore],
    answers: ScriptedAnswers,
) -> Iterator[TestClient]:
    audit, reviews, feedback = stores
    settings = Settings.load(data_dir=tmp_path / "data")

    @contextmanager
    def open_services(_: Settings) -> Iterator[Services]:
        yield Services(
            searcher=cast(Searcher, FakeSearcher()),
            answers=cast(AnswerService, answers),
            authenticator=Keys(),
            feedback=feedback,
            documents=cast(DocumentService, FakeDocuments()),
            reviews=reviews,
            audit=audit,
        )

    with TestClient(create_app(settings, open_services)) as client:
        yield client


def metric(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def total(text: str, name: str) -> float:
    return sum(metric(text, name).values())


def test_quality_metrics_follow_a_scripted_sequence(
    tmp_path: Path, stores: tuple[AuditStore, ReviewStore[Answer], FeedbackStore]
) -> None:
    answers = ScriptedAnswers()
    answers.script = [
        answered("q1", 0.81),
        abstained("q2"),
        withheld("q3"),
        answered("q4", 0.64),
        abstained("q5"),
    ]
    with serving(tmp_path, stores, answers) as client:
        before = client.get("/metrics").text
        assert total(before, "citewise_answers_total") == 0
        ids = []
        for question in ("q1", "q2", "q3", "q4"):
            response = client.post("/v1/ask", json={"question": question}, headers=auth("eve"))
            assert response.status_code == 200, response.text
            ids.append(response.json()["answer_id"])
        streamed = client.post(
            "/v1/ask",
            json={"question": "q5"},
            headers={**auth("eve"), "Accept": "text/event-stream"},
        )
        assert streamed.status_code == 200 and "event: answer" in streamed.text
        for answer_id, rating in zip(ids, ("up", "down", "down"), strict=False):
            rated = client.post(
                "/v1/feedback", json={"answer_id": answer_id, "rating": rating}, headers=auth("eve")
            )
            assert rated.status_code == 201, rated.text
        text = client.get("/metrics").text

    outcomes = metric(text, "citewise_answers_total")
    assert outcomes[(("outcome", "answered"), ("reason", ""))] == 3
    assert outcomes[(("outcome", "abstained"), ("reason", "weak_retrieval"))] == 2
    assert total(text, "citewise_answers_withheld_total") == 1
    assert total(text, "citewise_withheld_statements_total") == 2
    # support scores of the three checked answers: 1.0, 0.5, 1.0
    support = metric(text, "citewise_answer_support_score_bucket")
    assert support[(("le", "0.5"),)] == 1 and support[(("le", "1.0"),)] == 3
    assert total(text, "citewise_answer_support_score_sum") == pytest.approx(2.5)
    citations = metric(text, "citewise_answer_citations_bucket")
    assert citations[(("le", "0.0"),)] == 0 and citations[(("le", "1.0"),)] == 3
    similarity = metric(text, "citewise_retrieval_top1_similarity_bucket")
    assert similarity[(("le", "0.2"),)] == 2  # the two weak retrievals
    assert similarity[(("le", "0.7"),)] == 4 and similarity[(("le", "1.0"),)] == 5
    feedback = metric(text, "citewise_feedback_total")
    assert feedback == {(("rating", "up"),): 1, (("rating", "down"),): 2}


def test_asks_and_searches_record_exactly_what_was_shown(
    tmp_path: Path, stores: tuple[AuditStore, ReviewStore[Answer], FeedbackStore]
) -> None:
    audit = stores[0]
    answers = ScriptedAnswers()
    answers.script = [answered("q", 0.8), abstained("q")]
    with serving(tmp_path, stores, answers) as client:
        asked = client.post("/v1/ask", json={"question": "How much leave?"}, headers=auth("eve"))
        streamed = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Salary bands?"}], "stream": True},
            headers=auth("hana"),
        )
        assert streamed.status_code == 200, streamed.text
        searched = client.post("/v1/search", json={"query": "salary"}, headers=auth("hana"))
        assert searched.status_code == 200
    shown = asked.json()
    events = audit.events()
    assert [e.action for e in events] == [AuditAction.ASK, AuditAction.CHAT, AuditAction.SEARCH]
    ask, chat, search = events
    assert (ask.user_id, ask.groups, ask.tenant) == ("eve", ("public",), "acme")
    assert ask.question_sha256 == question_digest("How much leave?") and ask.question is None
    assert set(ask.doc_ids) == {s["doc_id"] for s in shown["sources"]} | {
        c["doc_id"] for c in shown["citations"]
    }
    assert set(ask.chunk_ids) == {i for s in shown["sources"] for i in s["chunk_ids"]}
    assert (ask.outcome, ask.answer_id) == ("answered", shown["answer_id"])
    # the HR user's access to the HR-only document, through chat and search
    assert (chat.user_id, chat.doc_ids, chat.outcome) == (
        "hana",
        ("salary-bands",),
        "abstained:weak_retrieval",
    )
    assert search.doc_ids == tuple(h["doc_id"] for h in searched.json()["results"])
    assert "salary-bands" in search.doc_ids and search.chunk_ids == ("c-leave-1", "c-hr-2")


def test_admin_actions_are_recorded_and_only_admins_read_the_log(
    tmp_path: Path, stores: tuple[AuditStore, ReviewStore[Answer], FeedbackStore]
) -> None:
    with serving(tmp_path, stores, ScriptedAnswers()) as client:
        root = auth("root")
        uploaded = client.post(
            "/v1/documents",
            files={"file": ("notes.md", io.BytesIO(b"# Notes\n\nHello."), "text/markdown")},
            data={"acl_groups": ["hr"]},
            headers=root,
        )
        assert uploaded.status_code == 202, uploaded.text
        acl = client.patch("/v1/documents/d1/acl", json={"groups": ["public"]}, headers=root)
        assert acl.status_code == 200, acl.text
        deleted = client.delete("/v1/documents/d1", headers=root)
        assert deleted.status_code == 202, deleted.text
        assert client.get("/v1/audit", headers=auth("eve")).status_code == 403
        assert client.get("/v1/audit", headers=auth("hana")).status_code == 403
        listed = client.get("/v1/audit", headers=root)
        only_acl = client.get(
            "/v1/audit", params={"action": "document_acl_change", "user": "root"}, headers=root
        )
        nobody = client.get("/v1/audit", params={"user": "eve"}, headers=root)
    assert listed.status_code == 200, listed.text
    rows = listed.json()["events"]
    assert [(r["action"], r["user_id"], r["target"]) for r in rows] == [
        ("document_upload", "root", "doc-notes.md"),
        ("document_acl_change", "root", "d1"),
        ("document_delete", "root", "d1"),
    ]
    assert rows[0]["detail"] == {
        "filename": "notes.md",
        "job_id": "job-upload",
        "acl": {"users": [], "groups": ["hr"]},
    }
    assert rows[1]["detail"] == {"users": [], "groups": ["public"]}
    assert [r["action"] for r in only_acl.json()["events"]] == ["document_acl_change"]
    assert nobody.json() == {"events": []}


def test_no_api_route_can_modify_audit_rows(tmp_path: Path) -> None:
    app = create_app(Settings.load(data_dir=tmp_path), lambda _: contextmanager(iter)([None]))
    routes = list(_api_routes(app.routes))
    assert len(routes) > 20  # every route of the API was found
    audit_routes = [(path, methods) for path, methods in routes if "audit" in path]
    assert audit_routes == [("/v1/audit", ["GET"])]
    # Nothing in the HTTP package calls the store's only removing method, or reaches the
    # audit rows by SQL: routes record (append) and read, nothing else.
    package = Path(inspect.getfile(api.http)).parent
    for module in package.rglob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        called = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert "purge" not in called, module
        assert "audit_log" not in _strings(tree), module
    assert {name for name, _ in inspect.getmembers(AuditStore, inspect.isfunction)} - {
        "__init__",
        "_session",
        "close",
    } == {"record", "events", "purge"}


def _api_routes(routes: Sequence[Any]) -> Iterator[tuple[str, list[str]]]:
    """Path and methods of every API route, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, sorted(route.methods)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _strings(tree: ast.AST) -> Sequence[str]:
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
