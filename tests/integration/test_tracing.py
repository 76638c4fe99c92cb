"""Traces of a real ``citewise serve`` app (``build_app``, as the command builds it) over a real
socket, with the SDK's in-memory span exporter in place of OTLP: the span tree of one
``/v1/ask`` over the sample corpus with the real embedder, qdrant-edge and the 0.5B model."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.composition.telemetry import build_app, open_telemetry
from core.settings import Settings
from store.audit_store import AuditAction, AuditStore, question_digest
from store.key_store import ApiKeyStore
from tests.live_server import serve_in_thread

pytestmark = [pytest.mark.model, pytest.mark.slow]

FOLLOW_UP = "And how much do they accrue per year?"
HISTORY = [
    {"role": "user", "content": "Tell me about paid vacation."},
    {"role": "assistant", "content": "Employees get paid vacation [1]."},
]
UNANSWERABLE = "What is the airspeed velocity of an unladen swallow?"


@pytest.fixture(scope="module")
def settings(sample_api_settings: Settings) -> Settings:
    """The ingested sample corpus (tests/integration/conftest.py), served with the 0.5B."""
    return sample_api_settings


@pytest.fixture(scope="module")
def key(settings: Settings) -> str:
    store = ApiKeyStore(settings.registry_url)
    try:
        return store.create("eve")[1]
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[tuple[str, InMemorySpanExporter]]:
    """The served app on a free loopback port, its spans kept in memory."""
    exporter = InMemorySpanExporter()
    with (
        open_telemetry(settings, exporter=exporter) as telemetry,
        serve_in_thread(build_app(settings, telemetry)) as port,
    ):
        yield f"http://127.0.0.1:{port}", exporter


def ask(
    served: tuple[str, InMemorySpanExporter], key: str, body: dict[str, Any]
) -> tuple[dict[str, Any], list[ReadableSpan]]:
    """One ask, and the spans of its trace (the HTTP server span's)."""
    url, exporter = served
    exporter.clear()
    response = httpx.post(
        f"{url}/v1/ask", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=600
    )
    assert response.status_code == 200, response.text
    # The HTTP server span ends just after the response's last byte is sent, so the client
    # may read the answer a moment before that span reaches the exporter.
    deadline = time.monotonic() + 30
    while True:
        spans = list(exporter.get_finished_spans())
        servers = [s for s in spans if s.kind is SpanKind.SERVER]
        if servers or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (server,) = servers
    assert server.name == "POST /v1/ask"
    trace_id = server.context.trace_id
    return response.json(), [s for s in spans if s.context.trace_id == trace_id]


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = by_name(spans, name)
    return found


def assert_child(child: ReadableSpan, parent: ReadableSpan) -> None:
    """``child`` is a direct child of ``parent`` and runs within its time."""
    assert child.parent is not None and child.parent.span_id == parent.context.span_id, (
        f"{child.name} is not a child of {parent.name}"
    )
    assert child.start_time is not None and parent.start_time is not None
    assert child.end_time is not None and parent.end_time is not None
    assert parent.start_time <= child.start_time <= child.end_time <= parent.end_time


def assert_no_text(spans: Sequence[ReadableSpan], texts: Sequence[str]) -> None:
    """No attribute holds a document's text (or any sentence of it) or the question."""
    sentences = [
        part.strip() for text in texts for part in text.split(".") if len(part.strip()) >= 25
    ]
    assert sentences, "no source text to look for"
    for span in spans:
        for key, value in (span.attributes or {}).items():
            if not isinstance(value, str):
                continue
            assert not any(s in value for s in sentences), f"{span.name}.{key} holds source text"
            assert len(value) < 40 or not any(value in t for t in texts), (span.name, key)
            assert FOLLOW_UP not in value and UNANSWERABLE not in value, (span.name, key)


def test_the_span_tree_of_one_ask(
    served: tuple[str, InMemorySpanExporter], key: str, settings: Settings
) -> None:
    answer, spans = ask(served, key, {"question": FOLLOW_UP, "history": HISTORY})
    server = one(spans, "POST /v1/ask")
    root = one(spans, "answer")
    assert_child(root, server)
    for stage in ("condense", "retrieve", "assemble", "prompt", "generate", "check"):
        assert_child(one(spans, stage), root)
    retrieve = one(spans, "retrieve")
    searches = by_name(spans, "search")
    assert searches  # the hybrid search, and the dense top-1 for the similarity
    for search in searches:
        assert_child(search, retrieve)
        children = [s for s in spans if s.parent and s.parent.span_id == search.context.span_id]
        query = one(children, "search.query")
        assert_child(query, search)
        assert query.attributes is not None and query.attributes["db.system"] == "qdrant"
        assert query.attributes["index.backend"] == "QdrantEdgeIndex"
    assert len(by_name(spans, "search.query")) == len(searches)
    check = one(spans, "check")
    judges = by_name(spans, "judge")
    assert judges
    for judge in judges:
        assert_child(judge, check)
        assert judge.attributes is not None and judge.attributes["judge.name"]
    generate = one(spans, "generate").attributes
    assert generate is not None
    assert int(generate["llm.prompt_tokens"]) > 0 and int(generate["llm.completion_tokens"]) > 0
    similarity = (retrieve.attributes or {})["retrieval.top1_similarity"]
    assert isinstance(similarity, float) and similarity == answer["retrieval_similarity"]
    attributes = root.attributes or {}
    assert attributes["answer.id"] == answer["answer_id"]
    assert attributes["question.length"] == len(FOLLOW_UP) and "question.text" not in attributes
    if answer["withheld"]:
        assert_child(one(spans, "withhold"), root)
    assert_no_text(spans, [s["text"] for s in answer["sources"]])
    # The served question is in the audit log with exactly the documents it showed.
    audit = AuditStore(settings.registry_url)
    try:
        (row,) = [e for e in audit.events(user_id="eve") if e.answer_id == answer["answer_id"]]
    finally:
        audit.close()
    shown = {s["doc_id"] for s in answer["sources"]} | {c["doc_id"] for c in answer["citations"]}
    assert set(row.doc_ids) == shown and row.action is AuditAction.ASK
    assert row.question_sha256 == question_digest(FOLLOW_UP)


def test_an_abstention_is_a_span(served: tuple[str, InMemorySpanExporter], key: str) -> None:
    answer, spans = ask(served, key, {"question": UNANSWERABLE})
    assert answer["abstained"]
    root = one(spans, "answer")
    abstain = one(spans, "abstain")
    assert_child(abstain, root)
    assert abstain.attributes is not None
    assert abstain.attributes["abstain.reason"] == answer["abstain_reason"]
    if answer["abstain_reason"] in {"weak_retrieval", "no_sources"}:
        assert not by_name(spans, "generate")  # the model was never asked
    assert_no_text(spans, [s["text"] for s in answer["sources"]] or ["x" * 30])
