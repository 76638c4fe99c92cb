from pathlib import Path, PurePosixPath

import pytest

from core.errors import ConfigError
from ingest.sources import discover, root_uri_prefix


def test_discovery_skips_hidden_and_separates_unsupported(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text("# x")
    (tmp_path / "b.PDF").write_bytes(b"%PDF")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("hidden")
    found = discover([tmp_path, tmp_path / "a" / "x.md"])
    assert [f.relative_path for f in found.files] == [
        PurePosixPath("a/x.md"),
        PurePosixPath("b.PDF"),
    ]
    assert [p.name for p in found.unsupported] == ["logo.png"]
    assert all(f.source_uri.startswith(root_uri_prefix(tmp_path)) for f in found.files)


def test_a_missing_path_is_an_error_not_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        discover([tmp_path / "nope"])
