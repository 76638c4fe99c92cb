import uuid
from pathlib import Path

from core.ids import chunk_id, document_id, file_sha256


def test_document_id_is_stable_and_distinct() -> None:
    assert document_id("file:///a.md") == document_id("file:///a.md")
    assert document_id("file:///a.md") != document_id("file:///b.md")


def test_chunk_ids_are_uuids_unique_per_version_and_ordinal() -> None:
    ids = {chunk_id("d", v, n) for v in (1, 2) for n in range(50)}
    assert len(ids) == 100
    assert all(uuid.UUID(i) for i in ids)
    assert chunk_id("d", 1, 0) == chunk_id("d", 1, 0)


def test_file_hash_changes_with_content(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("one")
    first = file_sha256(path)
    path.write_text("two")
    assert file_sha256(path) != first
