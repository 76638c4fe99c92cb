"""Keeping the index in sync: unchanged, edited, deleted files; ACL changes; bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api import composition
from core.ids import document_id
from core.models import Acl, DocumentStatus, IngestOutcome, IngestSummary
from core.settings import Settings
from ingest.acl_policy import AclPolicy
from tests.conftest import SAMPLE_ACL
from tests.integration.conftest import CountingEmbedder, Ingest

pytestmark = pytest.mark.model


def outcomes(summary: object) -> dict[str, str]:
    return {Path(r.source_uri).name: r.outcome.value for r in summary.files}  # type: ignore[attr-defined]


def test_reingest_of_an_unchanged_corpus_embeds_nothing(
    corpus: Path, ingest: Ingest, counting: CountingEmbedder, store
) -> None:
    first = ingest(corpus)
    assert first.failed == 0 and first.added == 11 and first.chunks > 30
    assert counting.embedded == first.chunks
    counting.embedded = 0
    second = ingest(corpus)
    assert (second.unchanged, second.added, second.updated, second.chunks) == (11, 0, 0, 0)
    assert counting.embedded == 0
    with store() as s:
        assert s.index.count() == first.chunks


def test_editing_one_file_replaces_only_its_chunks(
    corpus: Path, ingest: Ingest, counting: CountingEmbedder, store
) -> None:
    ingest(corpus)
    leave = corpus / "policies" / "leave-policy.md"
    leave_id = document_id(leave.resolve().as_uri())
    with store() as s:
        before = {d: {c.chunk_id for c in s.index.get_chunks(d)} for d in s.index.document_ids()}
    counting.embedded = 0
    leave.write_text(
        leave.read_text().replace("1.75 days", "2 days") + "\n## Sabbatical\n\n"
        "After 7 years of service employees may take a 6-week paid sabbatical.\n"
    )
    summary = ingest(corpus)
    assert outcomes(summary)["leave-policy.md"] == "updated"
    assert (summary.updated, summary.unchanged) == (1, 10)
    assert counting.embedded == summary.chunks  # only the edited file was embedded
    with store() as s:
        after = {d: {c.chunk_id for c in s.index.get_chunks(d)} for d in s.index.document_ids()}
        chunks = s.index.get_chunks(leave_id)
        assert {c.version for c in chunks} == {2}
        assert any("sabbatical" in c.text for c in chunks)
        assert not any("1.75 days" in c.text for c in chunks)
        assert s.index.count(leave_id) == len(chunks) == s.registry.get(leave_id).chunk_count
        # neighbours link within the new version
        assert chunks[0].prev_chunk_id is None and chunks[0].next_chunk_id == chunks[1].chunk_id
    assert after[leave_id].isdisjoint(before[leave_id])
    assert {d: ids for d, ids in after.items() if d != leave_id} == {
        d: ids for d, ids in before.items() if d != leave_id
    }


def test_prune_purges_deleted_files_and_only_with_prune(
    corpus: Path, ingest: Ingest, store
) -> None:
    first = ingest(corpus)
    eml = corpus / "announcements" / "office-move.eml"
    eml_id = document_id(eml.resolve().as_uri())
    eml.unlink()
    kept = ingest(corpus)
    assert kept.deleted == 0
    with store() as s:
        assert s.index.count(eml_id) > 0
    pruned = ingest(corpus, prune=True)
    assert pruned.deleted == 1 and outcomes(pruned)["office-move.eml"] == "deleted"
    with store() as s:
        assert s.index.count(eml_id) == 0
        assert eml_id not in s.registry.document_ids()
        assert s.index.count() == first.chunks - sum(
            r.chunks for r in first.files if r.source_uri.endswith("office-move.eml")
        )


def test_acl_policy_applies_and_changes_without_reembedding(
    corpus: Path, ingest: Ingest, counting: CountingEmbedder, store
) -> None:
    ingest(corpus, policy=AclPolicy.from_file(SAMPLE_ACL))
    salary_id = document_id((corpus / "hr" / "salary-bands.md").resolve().as_uri())
    with store() as s:
        assert {c.acl for c in s.index.get_chunks(salary_id)} == {Acl(groups=("hr",))}
        assert s.registry.get(salary_id).acl == Acl(groups=("hr",))
    counting.embedded = 0
    stricter = AclPolicy(default=("staff",), rules=())
    summary = ingest(corpus, policy=stricter)
    assert summary.unchanged == 11 and counting.embedded == 0
    with store() as s:
        assert {c.acl for c in s.index.get_chunks(salary_id)} == {Acl(groups=("staff",))}
        s.writer.set_acl(salary_id, Acl(users=("hannah",), groups=("hr",)))
        assert {c.acl for c in s.index.get_chunks(salary_id)} == {
            Acl(users=("hannah",), groups=("hr",))
        }


def test_bad_files_fail_one_by_one_while_the_rest_lands(
    corpus: Path, ingest: Ingest, store
) -> None:
    bad = corpus / "bad"
    bad.mkdir()
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage without xref")
    (bad / "empty.md").write_bytes(b"")
    (bad / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (bad / "latin1.txt").write_bytes("Caf\xe9 policy: na\xefve r\xe9sum\xe9s.\n".encode("latin-1"))
    (bad / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    summary = ingest(corpus)
    errors = {Path(r.source_uri).name: (r.outcome, r.error) for r in summary.files}
    assert summary.added == 11
    assert errors["corrupt.pdf"][0] is IngestOutcome.FAILED
    assert "corrupt PDF" in (errors["corrupt.pdf"][1] or "")
    assert errors["empty.md"] == (IngestOutcome.SKIPPED, "empty file (0 bytes)")
    assert errors["image.md"][0] is IngestOutcome.FAILED and "PNG" in (errors["image.md"][1] or "")
    assert errors["latin1.txt"][0] is IngestOutcome.FAILED
    assert "not valid UTF-8" in (errors["latin1.txt"][1] or "")
    if shutil.which("soffice") is None:
        assert errors["old.doc"][0] is IngestOutcome.FAILED
        assert "LibreOffice" in (errors["old.doc"][1] or "")
    assert summary.failed >= 3 and not summary.ok
    with store() as s:
        failed = {
            d.source_uri.rsplit("/", 1)[1]: d
            for d in s.registry.list_documents()
            if d.status is DocumentStatus.FAILED
        }
        assert {"corrupt.pdf", "image.md", "latin1.txt"} <= set(failed)
        assert all(d.error and "\n" not in d.error for d in failed.values())
        assert all(s.index.count(d.doc_id) == 0 for d in failed.values())


def test_a_file_over_the_size_limit_fails_unread_and_keeps_its_last_version(
    corpus: Path, data_dir: Path, counting: CountingEmbedder
) -> None:
    def run(limit_mb: float) -> IngestSummary:
        settings = Settings.load(
            data_dir=data_dir, ingest={"workers": 0}, parsing={"max_file_mb": limit_mb}
        )
        with composition.open_store(settings, embedder=counting) as s:
            return composition.build_pipeline(settings, s).run(
                [corpus], policy=AclPolicy.default_only(("public",))
            )

    big = corpus / "big-notes.md"
    big.write_text("# Notes\n\nThe canteen opens at 8:00.\n")
    assert outcomes(run(200))["big-notes.md"] == "added"
    big_id = document_id(big.resolve().as_uri())
    big.write_text(big.read_text() + "\nFiller line of meeting notes.\n" * 2_000)  # ~60 KB

    counting.embedded = 0
    summary = run(0.05)  # 50 KB
    result = next(r for r in summary.files if r.source_uri.endswith("big-notes.md"))
    assert result.outcome is IngestOutcome.FAILED
    size_mb = big.stat().st_size / 1e6
    assert result.error == f"file is {size_mb:.3g} MB, over the 0.05 MB limit (parsing.max_file_mb)"
    assert (summary.failed, summary.unchanged, counting.embedded) == (1, 11, 0)
    settings = Settings.load(data_dir=data_dir)
    with composition.open_store(settings, embedder=counting) as s:
        document = s.registry.get(big_id)
        assert document.status is DocumentStatus.FAILED and document.error == result.error
        chunks = s.index.get_chunks(big_id)  # the earlier version is still searchable
        assert chunks and all("Filler" not in c.text for c in chunks)
