"""Uploaded files waiting for their ingestion job, on local disk under the data directory.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import quote

from core.errors import EmptyDocumentError, TooLargeError

_UNSAFE = re.compile(r"[^\w .-]+")
_COPY_BLOCK = 1 << 20
UPLOAD_URI_PREFIX = "upload:///"
"""Source URIs of uploaded documents start with this; a re-upload under the same name is the
same document (a new version of it)."""


@dataclass(frozen=True)
class StagedUpload:
    """An upload on disk, ready to be queued as a job."""

    path: Path
    display_name: str
    source_uri: str
    size_bytes: int
    sha256: str


Sniffer = Callable[[Path, str], str]
"""Given the staged file and the client's name, the extension to ingest it as (or raises)."""


class UploadStaging:
    """Writes uploads under ``root`` and removes them when their job is over."""

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
            path=path,
            display_name=display,
            source_uri=UPLOAD_URI_PREFIX + quote(display, safe=""),
            size_bytes=size,
            sha256=digest,
        )

    def discard(self, path: Path) -> None:
        """Remove a staged upload (its whole folder); a no-op if it is already gone."""
        folder = path.parent
        if folder.parent == self._root:  # never walk outside the staging root
            shutil.rmtree(folder, ignore_errors=True)

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
    """The last component of the client's name (browsers on Windows send full paths),
    normalised; ``upload`` when nothing is left."""
    name = PureWindowsPath(PurePosixPath(client_name or "").name).name
    name = unicodedata.normalize("NFKC", name).strip().replace("\x00", "")
    return name[:200] or "upload"


def _safe_stem(name: str) -> str:
    stem = _UNSAFE.sub("_", Path(name).stem).strip(" .")
    return stem[:100] or "upload"
