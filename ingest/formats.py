"""The file formats Citewise ingests, by extension."""

from __future__ import annotations

from pathlib import Path

TEXT_FORMATS = frozenset({".md", ".markdown", ".txt", ".text", ".csv", ".tsv", ".html", ".htm"})
"""Formats read as text: they must decode as UTF-8 and must not hold binary content."""

OFFICE_FORMATS = frozenset({".docx", ".pptx", ".xlsx", ".odt", ".epub", ".rtf"})
LEGACY_OFFICE_FORMATS = frozenset({".doc", ".ppt"})
"""Formats unstructured converts through LibreOffice (``soffice``)."""

SUPPORTED_EXTENSIONS = (
    TEXT_FORMATS | OFFICE_FORMATS | LEGACY_OFFICE_FORMATS | frozenset({".pdf", ".eml"})
)


def is_supported(path: Path) -> bool:
    """True when Citewise can ingest a file with this name."""
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def file_type(path: Path) -> str:
    """The normalised type name stored with a document (the extension without its dot)."""
    suffix = path.suffix.lower().lstrip(".")
    return {"markdown": "md", "htm": "html", "text": "txt"}.get(suffix, suffix)
