"""Health, search and ask endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.http import audit_recording
from api.http.dependencies import AnswerLogDep, AnswersDep, Caller, SearcherDep, SettingsDep
from api.http.metrics import MetricsDep
from api.http.problems import problem, stream_problem
from api.http.reader_view import ReaderView
from api.http.review_routes import record_answer, record_events
from api.http.schemas import AskRequest, SearchHit, SearchRequest, SearchResponse
from core.errors import CitewiseError
from generation.answer import AnswerEvent, DeltaEvent, FinalEvent, SourcesEvent
from generation.answer_types import Answer, ChatMessage
from retrieval.snippets import make_snippet
from store.audit_store import AuditAction

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    """Alive (the process answers)."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], responses={503: {"description": "Still starting."}})
def readyz(request: Request) -> JSONResponse:
    """Ready: models loaded, index and registry open."""
    if not request.app.state.ready:
        return problem(503, "Not ready", "models are still loading")
    return JSONResponse({"status": "ready"})


@router.post("/v1/search", tags=["search"])
def search(
    body: SearchRequest,
    caller: Caller,
    searcher: SearcherDep,
    audit: audit_recording.AuditDep,
    settings: SettingsDep,
) -> SearchResponse:
    """Hybrid (dense + BM25) search over the documents the caller may read (``source_uri``
    is a display path for readers who are not admins)."""
    view = ReaderView.of(settings, caller)
    hits = searcher.search(
        body.query, caller, k=body.k, mode=body.mode, filters=body.filters.to_search_filters()
    )
    audit_recording.record_search(audit, caller, body.query, hits)
    results = []
    for rank, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        snippet = make_snippet(chunk.text, body.query)
        results.append(
            SearchHit(
                rank=rank,
                score=hit.score,
                doc_id=chunk.doc_id,
                chunk_id=chunk.chunk_id,
                title=chunk.title,
                section_path=list(chunk.section_path),
                pages=list(chunk.pages),
                source_uri=view.uri(chunk.source_uri),
                snippet=snippet.text,
                highlights=list(snippet.highlights),
            )
        )
    return SearchResponse(results=results)


@router.post(
    "/v1/ask",
    tags=["answers"],
    response_model=Answer,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "description": "Events `sources`, then `answer` (the checked answer), or "
                    "`error`. With `draft` (or an admin's `debug`) `delta` events carry the "
                    "model's unchecked draft as it is written; never by default."
                }
            }
        }
    },
)
def ask(
    body: AskRequest,
    caller: Caller,
    *,
    service: AnswersDep,
    metrics: MetricsDep,
    log: AnswerLogDep,
    audit: audit_recording.AuditDep,
    settings: SettingsDep,
    accept: str | None = Header(None),
) -> Answer | EventSourceResponse:
    """A grounded answer with checked citations, or "I couldn't find this" and the closest
    sources. The model's raw text (``model_text``) is null unless an admin asks for it with
    ``debug``; readers who are not admins see display paths as ``source_uri``."""
    view = ReaderView.of(settings, caller)
    history = tuple(ChatMessage(role=t.role, content=t.content) for t in body.history)
    filters = body.filters.to_search_filters()
    if accept and "text/event-stream" in accept:
        events = service.stream(body.question, caller, history=history, filters=filters)
        events = record_events(events, log, caller, body.question)
        events = audit_recording.record_events(
            events, audit, caller, body.question, AuditAction.ASK
        )
        sse = _sse(metrics.observe_events(events), view, draft=body.draft, debug=body.debug)
        return EventSourceResponse(sse)
    answer: Answer = service.answer(body.question, caller, history=history, filters=filters)
    metrics.observe_answer(answer)
    record_answer(log, caller, body.question, answer)
    audit_recording.record_answer(audit, caller, body.question, answer, AuditAction.ASK)
    return view.answer(answer, debug=body.debug)


def _sse(
    events: Iterator[AnswerEvent], view: ReaderView, *, draft: bool, debug: bool
) -> Iterator[ServerSentEvent]:
    """Answer events as SSE, as ``view`` shows them; a failure mid-stream becomes an ``error``
    event (the status line has already been sent)."""
    try:
        for event in events:
            if isinstance(event, SourcesEvent):
                sources = [
                    s.model_copy(update={"source_uri": view.uri(s.source_uri)}).model_dump(
                        mode="json", exclude={"text"}
                    )
                    for s in event.sources
                ]
                data = {"question": event.question, "sources": sources}
                yield ServerSentEvent(json.dumps(data), event="sources")
            elif isinstance(event, DeltaEvent) and (draft or (view.admin and debug)):
                # The unchecked draft is raw model text: it may state what the check withholds,
                # so only a client that asked for it (and replaces it with the answer) gets it.
                yield ServerSentEvent(json.dumps({"text": event.text}), event="delta")
            elif isinstance(event, FinalEvent):
                visible = view.answer(event.answer, debug=debug)
                yield ServerSentEvent(visible.model_dump_json(), event="answer")
    except CitewiseError as e:
        shown, rid = stream_problem(e, where="POST /v1/ask (stream)")
        body: dict[str, object] = {"title": shown.title, "detail": shown.detail}
        if rid is not None:
            body["request_id"] = rid
        yield ServerSentEvent(json.dumps(body), event="error")
