"""Assembles a shipped GGUF model from its installed PyPI parts, verified, into a cache.

The parts are located through ``importlib.metadata`` (never by importing the packages), each
distribution's version is checked against the pin, the concatenation is hashed while it is
written, and only a file whose sha256 matches is moved into place (atomically, under a file
lock so two processes assemble it once). Later calls reuse the cached file after checking its
size and the sidecar that records the verified hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from core.errors import ConfigError
from generation.model_catalog import CATALOG, ModelPart, ShippedModel

_log = logging.getLogger(__name__)
_CHUNK = 8 * 1024 * 1024

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes written so far, total bytes) while a model is assembled."""


class ModelNotInstalledError(ConfigError):
    """A model's PyPI parts are missing or at the wrong version."""


class ModelIntegrityError(ConfigError):
    """The assembled bytes do not match the pinned sha256: a part was tampered with."""


def resolve_model_path(
    name_or_path: str, cache_dir: Path, progress: ProgressCallback | None = None
) -> Path:
    """The GGUF file for a catalog name (assembled on first use) or an existing ``.gguf`` path.

    Raises ``ConfigError`` for an unknown name, ``ModelNotInstalledError`` when parts are
    missing, ``ModelIntegrityError`` when the bytes do not match the pin.
    """
    model = CATALOG.get(name_or_path)
    if model is not None:
        return ensure_model(model, cache_dir, progress)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    known = ", ".join(sorted(CATALOG))
    raise ConfigError(f"unknown model {name_or_path!r}: use one of {known} or a .gguf file path")


def ensure_model(
    model: ShippedModel, cache_dir: Path, progress: ProgressCallback | None = None
) -> Path:
    """The verified, assembled file of ``model`` in ``cache_dir``, assembling it if needed."""
    target = cache_dir / model.file_name
    if _is_verified(model, target):
        return target
    parts = locate_parts(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _is_verified(model, target):  # another process finished while we waited
            return target
        _assemble(model, parts, target, progress)
    return target


def locate_parts(model: ShippedModel) -> list[Path]:
    """The installed part files of ``model``, in order.

    Raises ``ModelNotInstalledError`` listing every missing or mismatched distribution.
    """
    found: list[Path] = []
    problems: list[str] = []
    for part in model.parts:
        path, problem = _locate(part)
        if problem:
            problems.append(problem)
        elif path is not None:
            found.append(path)
    if problems:
        raise ModelNotInstalledError(
            f"model {model.name} is not installed ({'; '.join(problems[:3])}"
            f"{'; ...' if len(problems) > 3 else ''}): {model.install_hint}"
        )
    return found


def installed_models() -> list[ShippedModel]:
    """The catalog models whose parts are all installed."""
    return [m for m in CATALOG.values() if all(_locate(p)[1] is None for p in m.parts)]


def _locate(part: ModelPart) -> tuple[Path | None, str | None]:
    try:
        dist = metadata.distribution(part.distribution)
    except metadata.PackageNotFoundError:
        return None, f"{part.distribution} missing"
    if dist.version != part.version:
        return None, f"{part.distribution} is {dist.version}, pinned {part.version}"
    for file in dist.files or ():
        if file.as_posix() == part.file:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path, None
    return None, f"{part.distribution} lacks {part.file}"


def _assemble(
    model: ShippedModel, parts: list[Path], target: Path, progress: ProgressCallback | None
) -> None:
    _log.info("assembling model", extra={"model": model.name, "parts": len(parts)})
    digest = hashlib.sha256()
    written = 0
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
                        if progress is not None:
                            progress(written, model.size)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != model.sha256 or written != model.size:
            raise ModelIntegrityError(
                f"model {model.name}: assembled {written} bytes with sha256 {actual[:16]}…, "
                f"pinned {model.size} bytes {model.sha256[:16]}…; refusing to load it "
                "(a part was changed or corrupted: reinstall its packages)"
            )
        os.replace(partial, target)
        _sidecar(target).write_text(json.dumps({"sha256": actual, "size": written}))
    finally:
        partial.unlink(missing_ok=True)


def _is_verified(model: ShippedModel, target: Path) -> bool:
    """A cached file counts as verified when its sidecar records the pinned hash and the
    size still matches; rehashing a gigabyte on every start would cost seconds."""
    try:
        recorded = json.loads(_sidecar(target).read_text())
        return bool(recorded.get("sha256") == model.sha256 and target.stat().st_size == model.size)
    except (OSError, ValueError):
        return False


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")
