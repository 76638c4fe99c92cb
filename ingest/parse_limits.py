"""Bounds on what parsing one file may cost: checks run before a parser library opens the file
(decompression bombs, page counts), and the limits a parser process runs under (memory, time).

A hostile or careless file must fail alone, with a one-line reason, cheaply: a 2.5 KB ``.docx``
whose one entry expands to gigabytes is refused from its ZIP directory without inflating a
byte, and a PDF of 10,000 blank pages from its page count, before any partitioning or OCR.
"""

from __future__ import annotations

import resource
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.errors import ParseError, TooLargeError

ZIP_FORMATS = frozenset({".docx", ".pptx", ".xlsx", ".odt", ".epub"})
"""Formats that are ZIP archives of XML (and media), inflated in memory by their parsers."""


@dataclass(frozen=True)
class ParseLimits:
    """The ``parsing.*`` limits, as the parser and its processes apply them."""

    max_unzipped_bytes: int = 200_000_000
    max_zip_ratio: float = 200.0
    max_pdf_pages: int = 2000
    max_ocr_pages: int = 50
    max_parse_s: float = 600.0
    memory_bytes: int = 4096 * 1_000_000
    """RLIMIT_AS of a parser process; 0: unlimited."""


def check_archive(path: Path, limits: ParseLimits) -> None:
    """Refuse a ZIP-based file whose entries expand past the size or ratio limit.

    Reads only the archive's central directory (the sizes it declares), inflating nothing. A
    declared size can lie, but Python's ``zipfile`` (which python-docx, python-pptx and
    openpyxl read with) stops an entry at its declared size; other readers (pandoc) are held
    by the parser process's memory limit.
    """
    if path.suffix.lower() not in ZIP_FORMATS:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ParseError(f"not a valid {path.suffix} file (broken ZIP container: {e})") from e
    if expanded > limits.max_unzipped_bytes:
        raise TooLargeError(
            f"expands to {expanded / 1e6:.3g} MB, over the "
            f"{limits.max_unzipped_bytes / 1e6:g} MB limit (parsing.max_unzipped_mb)"
        )
    size = max(path.stat().st_size, 1)
    if expanded / size > limits.max_zip_ratio:
        raise TooLargeError(
            f"expands {expanded / size:.0f} times its size, over the "
            f"{limits.max_zip_ratio:g}x limit (parsing.max_zip_ratio)"
        )


def check_pages(pages: int, limits: ParseLimits, *, ocr: bool) -> None:
    """Refuse a PDF with more pages than may be partitioned (or, for ``ocr``, OCRed)."""
    if pages > limits.max_pdf_pages:
        raise TooLargeError(
            f"PDF has {pages} pages, over the {limits.max_pdf_pages} page limit "
            "(parsing.max_pdf_pages)"
        )
    if ocr and pages > limits.max_ocr_pages:
        raise TooLargeError(
            f"PDF needs OCR and has {pages} pages, over the {limits.max_ocr_pages} page OCR "
            "limit (parsing.max_ocr_pages)"
        )


def limit_memory(memory_bytes: int) -> None:
    """Cap this process's address space (a parser process's, never the server's), so a file
    that needs more fails with MemoryError instead of exhausting the machine."""
    if memory_bytes <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


DEFAULT_LIMITS = ParseLimits()
"""The settings' defaults, for parsers built without settings (tests, tools)."""
