"""What the routes record in the audit log (``GET /v1/audit`` is in ``audit_routes``).

Routes record through the helpers here, after the work and before the response, so a caller
is never shown an answer, a hit or a change that the log missed (a failing audit write fails
the request). Nothing in the API updates or deletes audit rows (``citewise audit purge`` and
the retention purge of ``citewise serve`` alone remove them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import JsonValue

from api.http import dependencies
from core.models import Principal
from generation.answer import AnswerEvent, FinalEvent
from generation.answer_types import Answer
from retrieval.query import ScoredChunk
from store.audit_store import AuditAction

AuditDep = dependencies.AuditDep
"""The audit log (None when ``audit.enabled`` is off), for the routes that record."""


def answer_outcome(answer: Answer) -> str:
    """How an answer ended, as the audit log and the metrics name it."""
    if answer.abstained:
        reason = answer.abstain_reason.value if answer.abstain_reason else "unknown"
        return f"abstained:{reason}"
    if answer.quoted:
        return "quoted"
    return "withheld" if answer.withheld else "answered"


def record_answer(
    audit: AuditDep, caller: Principal, question: str, answer: Answer, action: AuditAction
) -> None:
    """Record a question and the documents and chunks its answer showed (sources and
    citations)."""
    if audit is None:
        return
    doc_ids = [s.doc_id for s in answer.sources] + [c.doc_id for c in answer.citations]
    chunk_ids = [i for s in answer.sources for i in s.chunk_ids] + [
        i for c in answer.citations for i in c.chunk_ids
    ]
    audit.record(
        action,
        caller,
        question=question,
        doc_ids=doc_ids,
        chunk_ids=chunk_ids,
        outcome=answer_outcome(answer),
        answer_id=answer.answer_id,
    )


def record_events(
    events: Iterator[AnswerEvent],
    audit: AuditDep,
    caller: Principal,
    question: str,
    action: AuditAction,
) -> Iterator[AnswerEvent]:
    """The events, passed on; the final answer is recorded (as ``record_answer``) before it
    goes out."""
    for event in events:
        if isinstance(event, FinalEvent):
            record_answer(audit, caller, question, event.answer, action)
        yield event


def record_search(
    audit: AuditDep, caller: Principal, query: str, hits: Sequence[ScoredChunk]
) -> None:
    """Record a search and the documents and chunks of the hits it showed."""
    if audit is None:
        return
    audit.record(
        AuditAction.SEARCH,
        caller,
        question=query,
        doc_ids=[h.chunk.doc_id for h in hits],
        chunk_ids=[h.chunk.chunk_id for h in hits],
        outcome=f"hits:{len(hits)}",
    )


def record_read(
    audit: AuditDep,
    caller: Principal,
    action: AuditAction,
    doc_id: str,
    chunk_ids: Sequence[str] = (),
) -> None:
    """Record a document opened outside an answer or a search: a passage with its neighbours
    (``chunk_ids``) or the original file."""
    if audit is None:
        return
    audit.record(action, caller, doc_ids=[doc_id], chunk_ids=chunk_ids, target=doc_id)


def record_admin(
    audit: AuditDep,
    caller: Principal,
    action: AuditAction,
    target: str,
    detail: dict[str, JsonValue] | None = None,
) -> None:
    """Record an admin action (upload, delete, ACL change) on ``target``."""
    if audit is None:
        return
    audit.record(action, caller, target=target, doc_ids=[target], detail=detail)
