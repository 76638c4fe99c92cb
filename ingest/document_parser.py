"""What the ingestion pipeline needs from a parser-chunker, in our own types."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Passage(BaseModel):
    """A chunk of a document before it gets ids, ACL and vectors."""

    model_config = ConfigDict(frozen=True)

    text: str
    section_path: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    element_types: tuple[str, ...] = ()
    table_html: str | None = None
    token_count: int = 0


class ParsedDocument(BaseModel):
    """A parsed and chunked document."""

    model_config = ConfigDict(frozen=True)

    title: str
    file_type: str
    passages: tuple[Passage, ...]
    source_tokens: int = 0
    """Tokens of the parsed text before chunking, to measure how much reaches the embedder."""


class DocumentParser(Protocol):
    """Parses a file and splits it into passages that fit the embedding window."""

    def process(self, path: Path) -> ParsedDocument:
        """Parse and chunk ``path``; raise a DocumentError with a one-line reason on failure."""
        ...

    def warm_up(self) -> None:
        """Load the parser's own models now rather than on the first file."""
        ...
