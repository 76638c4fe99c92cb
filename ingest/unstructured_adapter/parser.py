"""``DocumentParser`` over unstructured: partition, find the title, chunk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import EmptyDocumentError
from ingest.document_parser import ParsedDocument
from ingest.formats import file_type
from ingest.parse_limits import DEFAULT_LIMITS, ParseLimits
from ingest.unstructured_adapter.chunking import StructuredChunker, clip_heading
from ingest.unstructured_adapter.partitioning import partition_file, quiet_unstructured
from retrieval.tokens import TokenCounter

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

_TITLE_SCAN = 5


class UnstructuredParser:
    """Parses any supported file with ``unstructured.partition`` and chunks it by structure."""

    def __init__(
        self,
        chunker: StructuredChunker,
        tokens: TokenCounter,
        *,
        pdf_strategy: str = "fast",
        ocr_fallback: bool = True,
        languages: Sequence[str] = ("eng",),
        limits: ParseLimits = DEFAULT_LIMITS,
    ) -> None:
        self._chunker = chunker
        self._tokens = tokens
        self._pdf_strategy = pdf_strategy
        self._ocr_fallback = ocr_fallback
        self._languages = tuple(languages)
        self.limits = limits
        """What one file may cost (the parser pool applies the process limits)."""

    def warm_up(self) -> None:
        """Import unstructured and load its spaCy pipeline by chunking a tiny document."""
        from unstructured.partition.md import partition_md

        quiet_unstructured()
        elements = partition_md(text="# Warm-up\n\nThis sentence loads the language model.")
        self._chunker.chunk(elements, "Warm-up")

    def process(self, path: Path) -> ParsedDocument:
        """Parse and chunk one file."""
        elements = partition_file(
            path,
            pdf_strategy=self._pdf_strategy,
            ocr_fallback=self._ocr_fallback,
            languages=self._languages,
            limits=self.limits,
        )
        if not any(e.text.strip() for e in elements):
            raise EmptyDocumentError("no text could be extracted")
        title = document_title(elements, path)
        passages = self._chunker.chunk(elements, title)
        source_tokens = sum(self._tokens.count(e.text) for e in elements if e.text.strip())
        return ParsedDocument(
            title=title,
            file_type=file_type(path),
            passages=tuple(passages),
            source_tokens=source_tokens,
        )


def document_title(elements: Sequence[Element], path: Path) -> str:
    """The e-mail subject, else the first top-level title near the start, else the file name."""
    for element in elements[:_TITLE_SCAN]:
        subject = getattr(element.metadata, "subject", None)
        if subject:
            return clip_heading(str(subject))
    for element in elements[:_TITLE_SCAN]:
        if element.category == "Title" and not element.metadata.category_depth:
            return clip_heading(element.text)
    return clip_heading(path.stem.replace("-", " ").replace("_", " ").strip() or path.name)
