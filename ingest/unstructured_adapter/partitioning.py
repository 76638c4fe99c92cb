"""Partition one file into unstructured elements, offline, with clear per-file errors."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import EmptyDocumentError, MissingToolError, ParseError
from ingest.formats import LEGACY_OFFICE_FORMATS, TEXT_FORMATS
from ingest.parse_limits import DEFAULT_LIMITS, ParseLimits, check_archive, check_pages

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

# Never phone home, never print the commercial notice into our output.
_QUIET_ENV = {"DO_NOT_TRACK": "1", "UNSTRUCTURED_DISABLE_NOTICE": "1", "HF_HUB_OFFLINE": "1"}
_SNIFF_BYTES = 1 << 16


def quiet_unstructured() -> None:
    """Set the environment unstructured reads to stay offline and silent."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)


def partition_file(
    path: Path,
    *,
    pdf_strategy: str = "fast",
    ocr_fallback: bool = True,
    languages: Sequence[str] = ("eng",),
    limits: ParseLimits = DEFAULT_LIMITS,
) -> list[Element]:
    """Partition ``path`` with ``unstructured.partition.auto.partition``.

    Raises a DocumentError subclass with a one-line reason for anything that cannot be read:
    empty files, binary content in a text format, invalid UTF-8, corrupt PDFs, missing tools,
    and files over ``limits`` (checked before the file is handed to unstructured).
    """
    quiet_unstructured()
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise EmptyDocumentError("empty file (0 bytes)")
    if suffix in TEXT_FORMATS:
        _check_text(path)
    if suffix in LEGACY_OFFICE_FORMATS and shutil.which("soffice") is None:
        raise MissingToolError(
            f"{suffix} files are converted with LibreOffice, which is not installed "
            "(apt-get install libreoffice-writer libreoffice-impress)"
        )
    check_archive(path, limits)
    if suffix == ".pdf":
        return _partition_pdf(path, pdf_strategy, ocr_fallback, languages, limits)
    return _partition(path, strategy="fast", languages=languages)


def _partition(path: Path, *, strategy: str, languages: Sequence[str]) -> list[Element]:
    from unstructured.partition.auto import partition

    try:
        return list(partition(filename=str(path), strategy=strategy, languages=list(languages)))
    except (ImportError, ModuleNotFoundError) as e:
        raise MissingToolError(f"a parser dependency is missing: {e}") from e
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ParseError(f"cannot parse {path.suffix or 'file'}: {reason}") from e


def _check_text(path: Path) -> None:
    """Reject binary content and non-UTF-8 bytes in files that claim to be text."""
    from unstructured.file_utils.filetype import detect_filetype

    detected = detect_filetype(file_path=str(path))
    mime = detected.mime_type if detected is not None else ""
    if not mime.startswith(("text/", "message/", "application/json", "application/xml")):
        raise ParseError(
            f"content is {detected.name if detected else 'unknown'} ({mime or 'binary'}), "
            f"not {path.suffix} text"
        )
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(
            f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "re-encode it, e.g. iconv -f latin1 -t utf-8"
        ) from e


def _partition_pdf(
    path: Path, strategy: str, ocr_fallback: bool, languages: Sequence[str], limits: ParseLimits
) -> list[Element]:
    pages = _check_pdf(path)
    if pages is not None:
        check_pages(pages, limits, ocr=strategy == "ocr_only")
    elements = _partition(path, strategy=strategy, languages=languages)
    if any(e.text.strip() for e in elements) or strategy == "ocr_only":
        return elements
    # No text layer: a scan. OCR it when tesseract is available.
    if not ocr_fallback:
        raise EmptyDocumentError("PDF has no text layer (scanned?) and OCR fallback is off")
    if shutil.which("tesseract") is None or shutil.which("pdftoppm") is None:
        raise MissingToolError(
            "PDF has no text layer (scanned?); OCR needs tesseract and poppler "
            "(apt-get install tesseract-ocr poppler-utils)"
        )
    if pages is not None:
        check_pages(pages, limits, ocr=True)
    return _partition(path, strategy="ocr_only", languages=languages)


def _check_pdf(path: Path) -> int | None:
    """Open the PDF with pypdf first (unstructured returns nothing for a corrupt file); its
    page count, or None when pypdf's own safety limits stop it from counting."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        pages = len(PdfReader(str(path), strict=False).pages)
    except LimitReachedError:
        return None  # one of pypdf's safety limits on large files, not corruption: let pdfminer try
    except (PyPdfError, OSError, ValueError, KeyError) as e:
        raise ParseError(f"corrupt PDF: {e}") from e
    if pages == 0:
        raise EmptyDocumentError("PDF has no pages")
    return pages
