"""The audit log on real SQLite and on the local PostgreSQL server: append, filter, purge."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.models import Principal
from store.audit_store import AuditAction, AuditStore, question_digest

EVE = Principal(user_id="eve", groups=("public",), tenant="acme")
HANA = Principal(user_id="hana", groups=("public", "hr"), tenant="acme")


@pytest.fixture
def audit(database_url: str) -> Iterator[AuditStore]:
    store = AuditStore(database_url)
    yield store
    store.close()


def test_a_question_is_kept_as_its_hash_with_the_documents_shown(audit: AuditStore) -> None:
    recorded = audit.record(
        AuditAction.ASK,
        EVE,
        question="How much vacation?",
        doc_ids=["d1", "d2", "d1"],
        chunk_ids=["c1", "c2", "c3"],
        outcome="answered",
        answer_id="a" * 32,
    )
    (stored,) = audit.events()
    assert stored == recorded
    assert stored.question is None
    assert stored.question_sha256 == question_digest("How much vacation?")
    assert stored.question_sha256 is not None and len(stored.question_sha256) == 64
    assert stored.doc_ids == ("d1", "d2")  # first-seen order, once each
    assert stored.chunk_ids == ("c1", "c2", "c3")
    assert (stored.user_id, stored.groups, stored.tenant) == ("eve", ("public",), "acme")
    assert stored.at.tzinfo is not None


def test_question_text_only_when_configured(database_url: str) -> None:
    store = AuditStore(database_url, store_questions=True)
    try:
        store.record(AuditAction.CHAT, EVE, question="Where is the office?")
        (stored,) = store.events()
    finally:
        store.close()
    assert stored.question == "Where is the office?"
    assert stored.action is AuditAction.CHAT


def test_filters_by_time_user_and_action(audit: AuditStore) -> None:
    audit.record(AuditAction.ASK, EVE, question="q1")
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    audit.record(AuditAction.SEARCH, HANA, question="q2", doc_ids=["hr-doc"])
    audit.record(AuditAction.UPLOAD, HANA, target="doc-9", detail={"filename": "x.md"})

    assert [e.user_id for e in audit.events()] == ["eve", "hana", "hana"]
    assert [e.action for e in audit.events(since=middle)] == [
        AuditAction.SEARCH,
        AuditAction.UPLOAD,
    ]
    assert [e.user_id for e in audit.events(until=middle)] == ["eve"]
    # the same instant in another zone selects the same rows
    cet = middle.astimezone(timezone(timedelta(hours=1)))
    assert len(audit.events(since=cet)) == 2
    assert [e.action for e in audit.events(user_id="hana", actions=[AuditAction.UPLOAD])] == [
        AuditAction.UPLOAD
    ]
    assert audit.events(user_id="nobody") == []
    assert len(audit.events(limit=1)) == 1
    (upload,) = audit.events(actions=[AuditAction.UPLOAD])
    assert (upload.target, upload.detail) == ("doc-9", {"filename": "x.md"})


def test_purge_removes_only_rows_before_the_cutoff(audit: AuditStore) -> None:
    audit.record(AuditAction.ASK, EVE, question="old")
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    audit.record(AuditAction.ASK, EVE, question="new")
    assert audit.purge(cutoff) == 1
    (left,) = audit.events()
    assert left.question_sha256 == question_digest("new")
    assert audit.purge(cutoff) == 0
