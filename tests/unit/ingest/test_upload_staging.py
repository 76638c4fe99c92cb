"""Staging uploads: size limit, content sniffing (real detection), names never used as paths,
references that cannot name anything outside the staging folder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.errors import EmptyDocumentError, NotFoundError, TooLargeError, UnsupportedFormatError
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import LocalUploadStaging, UploadStaging, display_name
from tests.conftest import SAMPLE_CORPUS


@pytest.fixture
def staging(tmp_path: Path) -> UploadStaging:
    return LocalUploadStaging(tmp_path / "uploads", max_bytes=100_000, sniff=sniff_extension)


def test_an_upload_is_staged_under_a_random_folder_with_a_safe_name(
    staging: UploadStaging, tmp_path: Path
) -> None:
    staged = staging.stage(io.BytesIO(b"# Leave\n\nText.\n"), "../../etc/Leave policy (v2).md")
    assert staged.display_name == "Leave policy (v2).md"
    assert staged.source_uri == "upload:///Leave%20policy%20%28v2%29.md"
    folder, name = staged.ref.split("/")
    assert name == "Leave policy _v2_.md" and staged.file_type == "md"
    with staging.open(staged.ref) as path:
        assert path == tmp_path / "uploads" / folder / name
        assert (staged.size_bytes, path.read_bytes()) == (15, b"# Leave\n\nText.\n")
    staging.discard(staged.ref)
    assert not (tmp_path / "uploads" / folder).exists()
    with pytest.raises(NotFoundError), staging.open(staged.ref):
        pass
    staging.discard(staged.ref)  # already gone: a no-op


def test_a_reference_names_nothing_outside_the_staging_folder(
    staging: UploadStaging, tmp_path: Path
) -> None:
    outside = tmp_path / "secret" / "keep.md"
    outside.parent.mkdir()
    outside.write_text("keep")
    for ref in ("../secret/keep.md", str(outside), "a/../../secret/keep.md", "keep.md"):
        with pytest.raises(NotFoundError), staging.open(ref):
            pass
        staging.discard(ref)
    assert outside.read_text() == "keep"


def test_references_written_as_paths_under_the_root_still_open(
    staging: UploadStaging, tmp_path: Path
) -> None:
    staged = staging.stage(io.BytesIO(b"# Old\n\nQueued before references.\n"), "old.md")
    legacy = str(tmp_path / "uploads" / staged.ref)  # what job rows held before
    with staging.open(legacy) as path:
        assert path.read_bytes().startswith(b"# Old")
    staging.discard(legacy)
    assert not list((tmp_path / "uploads").glob("*/*"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\Users\\eve\\report.pdf", "report.pdf"),
        ("", "upload"),
        ("a/b/", "b"),
        ("x\x00.md", "x.md"),
    ],
)
def test_display_names_are_the_last_component(name: str, expected: str) -> None:
    assert display_name(name) == expected


def test_content_decides_the_type(staging: UploadStaging) -> None:
    pdf = (SAMPLE_CORPUS / "it" / "it-handbook.pdf").read_bytes()[:90_000]
    assert staging.stage(io.BytesIO(pdf), "handbook.docx").file_type == "pdf"
    # Inconclusive bytes keep the declared type: the parser reports what is wrong.
    assert staging.stage(io.BytesIO(b"garbage" * 10), "broken.pdf").file_type == "pdf"
    assert staging.stage(io.BytesIO(b"a,b\n1,2\n"), "t.csv").ref.endswith("/t.csv")


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("notes.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, UnsupportedFormatError, "PNG"),
        ("notes.md", b"PK\x03\x04" + b"\x00" * 100, UnsupportedFormatError, "ZIP"),
        ("run.exe", b"MZ", UnsupportedFormatError, "unsupported file type (.exe)"),
        ("noext", b"hello", UnsupportedFormatError, "no extension"),
        ("empty.md", b"", EmptyDocumentError, "0 bytes"),
        ("big.txt", b"a" * 100_001, TooLargeError, "0.1 MB limit"),
    ],
)
def test_refused_uploads_leave_nothing_behind(  # noqa: PLR0917 - parametrised
    staging: UploadStaging,
    tmp_path: Path,
    name: str,
    content: bytes,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        staging.stage(io.BytesIO(content), name)
    assert not list((tmp_path / "uploads").glob("*/*"))
