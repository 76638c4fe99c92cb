"""Hostile documents, generated in the test (issue 16): a decompression-bomb ``.docx`` and a
PDF of thousands of blank pages."""

from __future__ import annotations

import zipfile
from pathlib import Path

from pypdf import PdfWriter

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def zip_bomb_docx(path: Path, *, expanded_mb: int = 400) -> Path:
    """A valid-looking ``.docx`` whose one text node expands to ``expanded_mb`` MB of one
    repeated letter (a few hundred KB on disk): the shape of the issue's 2.5 KB bomb, whose
    parser grew to gigabytes."""
    block = b"A" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as entry:
            entry.write(f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>'.encode())
            for _ in range(expanded_mb):
                entry.write(block)
            entry.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return path


def blank_pdf(path: Path, *, pages: int = 10_000) -> Path:
    """A PDF of ``pages`` blank pages (about 1 MB for 10,000): no text layer, so without a
    page limit every page would go to OCR."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    with path.open("wb") as f:
        writer.write(f)
    return path
