"""Find the files to ingest under the paths a user names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import ConfigError
from ingest.formats import is_supported


@dataclass(frozen=True)
class SourceFile:
    """A file found under one of the ingested roots, or an upload staged under its own URI."""

    path: Path
    root: Path
    relative_path: PurePosixPath
    uri: str | None = None

    @property
    def source_uri(self) -> str:
        """The stable URI the document id derives from: the file's own, unless given."""
        return self.uri or self.path.as_uri()


@dataclass(frozen=True)
class Discovery:
    """What a walk found: files to ingest, and files skipped for their type."""

    files: tuple[SourceFile, ...]
    unsupported: tuple[Path, ...]


def discover(paths: Sequence[Path]) -> Discovery:
    """Walk files and folders in sorted order, skipping hidden entries.

    Raises ConfigError for a path that does not exist, so a typo is not mistaken for an
    empty folder (which, with ``--prune``, would purge it).
    """
    files: dict[Path, SourceFile] = {}
    unsupported: list[Path] = []
    for given in paths:
        if not given.exists():
            raise ConfigError(f"{given} does not exist")
        root = given.resolve()
        base = root if root.is_dir() else root.parent
        for path in _walk(root):
            if not is_supported(path):
                unsupported.append(path)
            elif path not in files:
                files[path] = SourceFile(
                    path, base, PurePosixPath(path.relative_to(base).as_posix())
                )
    return Discovery(tuple(files.values()), tuple(unsupported))


def root_uri_prefix(path: Path) -> str:
    """The URI prefix that every file under ``path`` starts with (for pruning)."""
    resolved = path.resolve()
    uri = resolved.as_uri()
    return uri.rstrip("/") + "/" if resolved.is_dir() else uri


def _walk(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            yield path
