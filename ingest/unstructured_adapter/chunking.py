"""Structure-aware chunking: sections first (unstructured's ``chunk_by_title``), then
sentences (llama-index's ``SentenceSplitter``) for any section over the token budget.

Every passage fits the embedding window measured with the embedding model's own tokenizer,
heading line included. Tables are split only at row boundaries (unstructured's table
splitter, with repeated headers) and keep their HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from core.models import heading_line
from ingest.document_parser import Passage
from retrieval.tokens import TokenCounter

if TYPE_CHECKING:
    from unstructured.documents.elements import Element

_SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_MAX_HEADING_CHARS = 80
_MAX_SECTION_DEPTH = 3
_TABLE_CATEGORIES = frozenset({"Table", "TableChunk"})
_MIN_TABLE_CHARS = 100


@dataclass(frozen=True)
class ChunkingOptions:
    """Sizes for the section chunker; the hard limit is always the token window."""

    max_tokens: int = 256
    max_characters: int = 20000
    new_after_n_chars: int = 800
    combine_text_under_n_chars: int = 300
    overlap_tokens: int = 24


class StructuredChunker:
    """Turns partitioned elements into passages that fit the embedder's window."""

    def __init__(self, tokens: TokenCounter, options: ChunkingOptions) -> None:
        self._tokens = tokens
        self._options = options

    def chunk(self, elements: Sequence[Element], title: str) -> list[Passage]:
        """Chunk one document's elements; ``title`` is part of every passage's heading line."""
        from unstructured.chunking.title import chunk_by_title

        sections = section_paths(elements)
        opts = self._options
        # unstructured combines small sections even across pages, but a citation needs the
        # right page: chunk each page on its own (all of a document without pages at once).
        chunks = [
            chunk
            for _, page in groupby(elements, key=lambda e: e.metadata.page_number)
            for chunk in chunk_by_title(
                list(page),
                max_characters=opts.max_characters,
                new_after_n_chars=opts.new_after_n_chars,
                combine_text_under_n_chars=min(
                    opts.combine_text_under_n_chars, opts.new_after_n_chars
                ),
                multipage_sections=False,
                include_orig_elements=True,
            )
        ]
        passages: list[Passage] = []
        for chunk in chunks:
            if not chunk.text.strip():
                continue
            originals = list(chunk.metadata.orig_elements or [chunk])
            path = _section_for(originals, sections)
            passages.extend(self._fit(chunk, originals, title, path))
        return passages

    def _fit(
        self, chunk: Element, originals: list[Element], title: str, path: tuple[str, ...]
    ) -> Iterator[Passage]:
        budget = self._budget(title, path)
        content = [e for e in originals if e.category != "PageBreak"]
        pages = tuple(sorted({p for e in content if (p := e.metadata.page_number)}))
        types = tuple(sorted({e.category for e in content}))
        for text, table_html in self._pieces(chunk, budget):
            yield Passage(
                text=text,
                section_path=path,
                pages=pages,
                element_types=types,
                table_html=table_html,
                token_count=self._tokens.count(text),
            )

    def _pieces(self, chunk: Element, budget: int) -> list[tuple[str, str | None]]:
        """The chunk as (text, table HTML) pieces that each fit ``budget`` tokens."""
        if chunk.category in _TABLE_CATEGORIES:
            return self._split_table(chunk, budget)
        if self._tokens.count(chunk.text) <= budget:
            return [(chunk.text, None)]
        return [(text, None) for text in self._split_sentences(chunk.text, budget)]

    def _budget(self, title: str, path: tuple[str, ...]) -> int:
        # The heading line and its newline are embedded with every passage (Chunk.embedding_text).
        heading = heading_line(title, path)
        return self._options.max_tokens - _SPECIAL_TOKENS - self._tokens.count(heading + "\n")

    def _split_sentences(self, text: str, budget: int) -> list[str]:
        from llama_index.core.node_parser import SentenceSplitter

        splitter = SentenceSplitter(
            chunk_size=budget,
            chunk_overlap=min(self._options.overlap_tokens, budget // 4),
            tokenizer=self._tokens.encode,
        )
        return [t for t in splitter.split_text(text) if t.strip()]

    def _split_table(self, table: Element, budget: int) -> list[tuple[str, str | None]]:
        """Split an over-long table at row boundaries by re-chunking it with a smaller size."""
        from unstructured.chunking.title import chunk_by_title

        if self._tokens.count(table.text) <= budget:
            return [(table.text, table.metadata.text_as_html)]
        max_chars = len(table.text)
        while max_chars > _MIN_TABLE_CHARS:
            max_chars = max(_MIN_TABLE_CHARS, max_chars * 2 // 3)
            parts = chunk_by_title([table], max_characters=max_chars, repeat_table_headers=True)
            if all(self._tokens.count(p.text) <= budget for p in parts):
                return [(p.text, p.metadata.text_as_html) for p in parts]
        # A single row larger than the window: split its text by sentences as a last resort.
        return [(t, None) for t in self._split_sentences(table.text, budget)]


def section_paths(elements: Iterable[Element]) -> dict[str, tuple[str, ...]]:
    """Map each element id to the heading path above it (titles by ``category_depth``)."""
    stack: list[tuple[int, str]] = []
    paths: dict[str, tuple[str, ...]] = {}
    for element in elements:
        if element.category == "Title" and element.text.strip():
            depth = element.metadata.category_depth or 0
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, clip_heading(element.text)))
        paths[element.id] = tuple(title for _, title in stack[-_MAX_SECTION_DEPTH:])
    return paths


def _section_for(
    originals: Sequence[Element], sections: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The section of a chunk's first body element (headings before it are its path)."""
    body = [e for e in originals if e.category not in ("Title", "PageBreak")]
    for element in (*body, *originals):
        if element.id in sections:
            return sections[element.id]
    return ()


def clip_heading(text: str) -> str:
    """Collapse whitespace and cut a heading to a length that leaves room for the passage."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_HEADING_CHARS else text[: _MAX_HEADING_CHARS - 1] + "…"
