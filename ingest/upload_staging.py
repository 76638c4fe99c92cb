"""Uploaded files waiting for their ingestion job: the ``UploadStaging`` interface, and its
default, a folder (``LocalUploadStaging``).

The API stages an upload and queues a job that names it by a *reference* (a string kept in
the job row); the worker that runs the job, on this host or another, opens the reference as a
local file for the parser and discards it when the job is over. With several hosts the folder
must be shared (a volume every API and worker container mounts, see docs/deployment.md);
another store (an object store) only has to implement the three methods.

The client's file name is never used as a path: each upload gets a directory named by a random
id, and the file in it a name reduced to safe characters (kept because the parser falls back
to the file name for a document's title) with the extension its content was sniffed as.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Protocol
from urllib.parse import quote

from core.errors import EmptyDocumentError, NotFoundError, TooLargeError

_UNSAFE = re.compile(r"[^\w .-]+")
# Control (Cc), format (Cf: bidi overrides and isolates, zero-width characters), line and
# paragraph separators, surrogates and unassigned code points.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_COPY_BLOCK = 1 << 20
UPLOAD_URI_PREFIX = "upload:///"
"""Source URIs of uploaded documents start with this; a re-upload under the same name is the
same document (a new version of it)."""


@dataclass(frozen=True)
class StagedUpload:
    """A staged upload, ready to be queued as a job."""

    ref: str
    """Names the staged bytes to the staging that holds them (what the job row keeps)."""
    file_type: str
    """The extension its content was sniffed as, without the dot."""
    display_name: str
    source_uri: str
    size_bytes: int
    sha256: str


Sniffer = Callable[[Path, str], str]
"""Given the staged file and the client's name, the extension to ingest it as (or raises)."""


class UploadStaging(Protocol):
    """Where uploads wait for their job: put bytes, get a reference; open it; remove it."""

    def stage(self, stream: BinaryIO, client_name: str) -> StagedUpload:
        """Store ``stream`` (size limit enforced, typed by its content) under a new reference.

        Raises TooLargeError, EmptyDocumentError, or UnsupportedFormatError, leaving nothing.
        """
        ...

    def open(self, ref: str) -> AbstractContextManager[Path]:
        """The staged file as a local path while the context lasts (named as staged, which
        the parser may use for a title); NotFoundError when it is gone."""
        ...

    def discard(self, ref: str) -> None:
        """Remove a staged upload; a no-op if it is already gone."""
        ...


class LocalUploadStaging:
    """Stages uploads in a folder, ``root`` (shared between hosts when it is a shared volume);
    a reference is the upload's path relative to ``root``."""

    def __init__(self, root: Path, *, max_bytes: int, sniff: Sniffer) -> None:
        self._root = root
        self._max_bytes = max_bytes
        self._sniff = sniff

    def stage(self, stream: BinaryIO, client_name: str) -> StagedUpload:
        """Copy ``stream`` to disk, enforcing the size limit, and type it by its content.

        Raises TooLargeError, EmptyDocumentError, or UnsupportedFormatError; nothing is
        left on disk when it raises.
        """
        display = display_name(client_name)
        folder = self._root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            raw = folder / "upload.bin"
            size, digest = self._copy(stream, raw)
            if size == 0:
                raise EmptyDocumentError(f"{display} is empty (0 bytes)")
            extension = self._sniff(raw, display)
            path = folder / (_safe_stem(display) + extension)
            raw.rename(path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return StagedUpload(
            ref=path.relative_to(self._root).as_posix(),
            file_type=extension.lstrip("."),
            display_name=display,
            source_uri=UPLOAD_URI_PREFIX + quote(display, safe=""),
            size_bytes=size,
            sha256=digest,
        )

    @contextmanager
    def open(self, ref: str) -> Iterator[Path]:
        """The staged file itself (the folder is shared: nothing to copy)."""
        path = self._path(ref)
        if path is None or not path.is_file():
            raise NotFoundError("the uploaded file is no longer staged; upload it again")
        yield path

    def discard(self, ref: str) -> None:
        """Remove a staged upload (its whole folder); a no-op if it is already gone."""
        path = self._path(ref)
        if path is not None:
            shutil.rmtree(path.parent, ignore_errors=True)

    def _path(self, ref: str) -> Path | None:
        """The file a reference names, or None if it names anything but a file in an upload's
        folder right under the root (references written before they were relative are paths
        that include the root)."""
        given = Path(ref)
        path = given if given.parent.parent == self._root else self._root / ref
        if path.parent.parent != self._root or ".." in PurePosixPath(ref).parts:
            return None
        return path

    def _copy(self, stream: BinaryIO, target: Path) -> tuple[int, str]:
        size = 0
        digest = hashlib.sha256()
        with target.open("wb") as out:
            while block := stream.read(_COPY_BLOCK):
                size += len(block)
                if size > self._max_bytes:
                    limit_mb = self._max_bytes / 1_000_000
                    raise TooLargeError(f"upload is over the {limit_mb:g} MB limit")
                digest.update(block)
                out.write(block)
        return size, digest.hexdigest()


def display_name(client_name: str) -> str:
    """The name an upload is shown and identified by: ``upload`` when nothing is left.

    In this order, because each step must see what the one before produced: NFKC first (so a
    full-width solidus (U+FF0F) becomes ``/`` and is then treated as the separator it looks
    like), then the last path component (browsers on Windows send full paths), then control,
    format and bidirectional-override characters dropped (a right-to-left override would
    show ``evil\u202egpj.md`` as ``evilmd.jpg``). ``.`` and ``..`` are not names.
    """
    name = unicodedata.normalize("NFKC", client_name or "")
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(c for c in name if unicodedata.category(c) not in _INVISIBLE).strip()
    if name in (".", ".."):
        name = ""
    return name[:200] or "upload"


def _safe_stem(name: str) -> str:
    stem = _UNSAFE.sub("_", Path(name).stem).strip(" .")
    return stem[:100] or "upload"
