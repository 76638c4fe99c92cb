"""What readers are shown of sources (issue 16): display paths, no hashes, no model text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api.http.reader_view import ReaderView, display_path
from core.models import Acl, Document, DocumentStatus
from generation.answer_types import Answer, Citation

ROOTS = (Path("/srv/handbook"), Path("/srv/handbook/hr"))


def test_display_paths() -> None:
    assert display_path("file:///srv/handbook/policies/travel.md", ROOTS) == "policies/travel.md"
    assert display_path("file:///srv/handbook/hr/pay%20bands.md", ROOTS) == "pay bands.md"
    assert display_path("file:///elsewhere/secret/plan.md", ROOTS) == "plan.md"
    assert display_path("file:///srv/handbookish/x.md", ROOTS) == "x.md"
    assert display_path("upload:///caf%C3%A9%20notes.md", ROOTS) == "café notes.md"
    assert display_path("https://wiki.example/page", ROOTS) == "https://wiki.example/page"


def _document() -> Document:
    now = datetime.now(UTC)
    return Document(
        doc_id="d1",
        source_uri="file:///srv/handbook/policies/travel.md",
        title="Travel",
        content_hash="ab" * 32,
        version=1,
        acl=Acl(groups=("public",)),
        status=DocumentStatus.INDEXED,
        created_at=now,
        updated_at=now,
    )


def test_readers_and_admins_see_documents_differently() -> None:
    reader = ReaderView(admin=False, roots=ROOTS).document(_document())
    assert (reader.source_uri, reader.content_hash) == ("policies/travel.md", None)
    admin = ReaderView(admin=True, roots=ROOTS).document(_document())
    assert (admin.source_uri, admin.content_hash) == (_document().source_uri, "ab" * 32)


def test_model_text_only_for_an_admin_who_asks() -> None:
    citation = Citation(
        number=1,
        doc_id="d1",
        chunk_ids=("c1",),
        title="Travel",
        source_uri="file:///srv/handbook/policies/travel.md",
    )
    answer = Answer(question="q", text="a [1]", citations=(citation,), model_text="raw")
    reader, admin = ReaderView(admin=False, roots=ROOTS), ReaderView(admin=True, roots=ROOTS)
    assert reader.answer(answer, debug=True).model_text is None
    assert reader.answer(answer).citations[0].source_uri == "policies/travel.md"
    assert admin.answer(answer).model_text is None
    assert admin.answer(answer, debug=True).model_text == "raw"
    assert admin.answer(answer).citations[0].source_uri == citation.source_uri
