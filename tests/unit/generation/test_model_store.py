"""The model store against real installed distributions (small files of PyYAML stand in for
model parts, so these tests need no model)."""

import hashlib
from importlib import metadata
from pathlib import Path

import pytest

from core.errors import ConfigError
from generation.model_catalog import CATALOG, ModelPart, ShippedModel
from generation.model_store import (
    ModelIntegrityError,
    ModelNotInstalledError,
    ensure_model,
    locate_parts,
    resolve_model_path,
)

DIST = metadata.distribution("PyYAML")
FILES = ["yaml/__init__.py", "yaml/error.py"]


def _model(*, sha256: str | None = None, version: str | None = None) -> ShippedModel:
    data = b"".join(Path(str(DIST.locate_file(f))).read_bytes() for f in FILES)
    return ShippedModel(
        name="stand-in",
        description="two PyYAML files",
        parts=tuple(ModelPart("PyYAML", version or DIST.version, f) for f in FILES),
        size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        install_hint="pip install pyyaml",
    )


def test_parts_are_concatenated_in_order_verified_and_cached(tmp_path: Path) -> None:
    model = _model()
    path = ensure_model(model, tmp_path)
    expected = b"".join(p.read_bytes() for p in locate_parts(model))
    assert path == tmp_path / "stand-in.gguf"
    assert path.read_bytes() == expected
    seen: list[int] = []
    mtime = path.stat().st_mtime_ns
    assert ensure_model(model, tmp_path, lambda done, total: seen.append(done)) == path
    assert path.stat().st_mtime_ns == mtime and seen == []  # reused, not re-assembled


def test_a_hash_mismatch_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        ensure_model(_model(sha256="0" * 64), tmp_path)
    assert not any(p.suffix in {".gguf", ".partial"} for p in tmp_path.iterdir())


def test_a_cached_file_whose_size_changed_is_assembled_again(tmp_path: Path) -> None:
    model = _model()
    path = ensure_model(model, tmp_path)
    original = path.read_bytes()
    path.write_bytes(b"truncated")
    assert ensure_model(model, tmp_path).read_bytes() == original


def test_a_wrong_version_or_missing_distribution_says_what_to_install() -> None:
    with pytest.raises(ModelNotInstalledError, match=r"pinned 0\.0\.1.*pip install pyyaml"):
        locate_parts(_model(version="0.0.1"))
    missing = ShippedModel(
        name="absent",
        description="",
        parts=(ModelPart("no-such-distribution-xyz", "1.0", "x.bin"),),
        size=1,
        sha256="0" * 64,
        install_hint="make model-absent",
    )
    with pytest.raises(ModelNotInstalledError, match="no-such-distribution-xyz missing"):
        locate_parts(missing)


def test_names_and_paths_resolve(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model 'gpt-9'"):
        resolve_model_path("gpt-9", tmp_path)
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(str(gguf), tmp_path) == gguf


def test_the_catalog_pins_every_model() -> None:
    for model in CATALOG.values():
        assert len(model.sha256) == 64 and int(model.sha256, 16)
        assert model.size > 0 and model.parts
