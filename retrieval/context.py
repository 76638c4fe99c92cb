"""Context assembly: search hits → de-duplicated, merged, budgeted, numbered sources.

The result is our own ``Context`` model, which generation turns into a prompt and resolves
``[n]`` citations against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from core.models import Chunk, heading_line
from retrieval.index import VectorIndex
from retrieval.query import AccessScope, ScoredChunk
from retrieval.tokens import TokenCounter

_SPACE = re.compile(r"\s+")
_MIN_OVERLAP = 20


class Source(BaseModel):
    """One numbered source: a passage made of one or more adjacent chunks of a document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    doc_id: str
    chunk_ids: tuple[str, ...]
    title: str
    source_uri: str
    section_path: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    text: str
    score: float
    token_count: int

    @property
    def heading(self) -> str:
        """``Title > Section > Subsection``."""
        return heading_line(self.title, self.section_path)

    def locator(self) -> str:
        """Where to find the passage: heading, pages and URI on one line."""
        pages = _pages(self.pages)
        return " | ".join(part for part in (self.heading, pages, self.source_uri) if part)


class Context(BaseModel):
    """The sources an answer may use, numbered ``[1]..[n]`` in rank order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    sources: tuple[Source, ...]
    token_count: int
    dropped: int = 0
    """Hits left out because the token budget was full."""

    def source(self, number: int) -> Source | None:
        """The source cited as ``[number]``, or None when out of range."""
        return self.sources[number - 1] if 1 <= number <= len(self.sources) else None


@dataclass(frozen=True)
class AssemblyOptions:
    """How much context to build.

    ``budget_tokens`` caps the sources' text, counted with the configured counter (the
    generator's tokenizer in the answer path). ``neighbours`` is how many chunks before and
    after each hit, within the same section, may be added while the budget allows.
    """

    budget_tokens: int = 1500
    neighbours: int = 1
    max_sources: int = 8


@dataclass
class _Passage:
    chunks: list[Chunk]
    score: float
    hit_ids: set[str] = field(default_factory=set)

    @property
    def first(self) -> Chunk:
        return self.chunks[0]

    @property
    def last(self) -> Chunk:
        return self.chunks[-1]


class ContextAssembler:
    """Builds a ``Context`` from ranked hits.

    Steps: drop duplicate chunks (same id, or the same text in another document); merge hits
    that are adjacent chunks of the same section into one passage; admit passages in rank
    order while they fit the budget; then, budget permitting, widen passages with their
    neighbouring chunks, fetched through the caller's access scope.
    """

    def __init__(
        self,
        counter: TokenCounter,
        index: VectorIndex | None = None,
        options: AssemblyOptions | None = None,
    ) -> None:
        self._counter = counter
        self._index = index
        self._options = options or AssemblyOptions()

    def assemble(self, question: str, hits: Sequence[ScoredChunk], scope: AccessScope) -> Context:
        """Number the best passages for ``question`` that fit the token budget."""
        options = self._options
        passages = _merge_adjacent(_deduplicate(hits))
        admitted: list[_Passage] = []
        used = 0
        dropped = 0
        for passage in passages:
            cost = self._tokens(passage)
            if len(admitted) >= options.max_sources or used + cost > options.budget_tokens:
                dropped += 1
                continue
            admitted.append(passage)
            used += cost
        if self._index is not None and options.neighbours > 0:
            used = self._expand(admitted, used, scope)
        sources = tuple(_source(n, p, self._tokens(p)) for n, p in enumerate(admitted, start=1))
        return Context(
            question=question,
            sources=sources,
            token_count=sum(s.token_count for s in sources),
            dropped=dropped,
        )

    def _tokens(self, passage: _Passage) -> int:
        return self._counter.count(_join(passage.chunks))

    def _expand(self, passages: list[_Passage], used: int, scope: AccessScope) -> int:
        """Add neighbouring chunks of the same section, best passage first, within budget."""
        assert self._index is not None
        wanted = [
            cid
            for p in passages
            for cid in (p.first.prev_chunk_id, p.last.next_chunk_id)
            if cid is not None
        ]
        for _ in range(self._options.neighbours):
            fetched = {c.chunk_id: c for c in self._index.fetch(wanted, scope)}
            wanted = []
            for passage in passages:
                for chunk, at_start in (
                    (fetched.get(passage.first.prev_chunk_id or ""), True),
                    (fetched.get(passage.last.next_chunk_id or ""), False),
                ):
                    if chunk is None or chunk.section_path != passage.first.section_path:
                        continue
                    if any(chunk.chunk_id == c.chunk_id for p in passages for c in p.chunks):
                        continue
                    before = self._tokens(passage)
                    if at_start:
                        passage.chunks.insert(0, chunk)
                    else:
                        passage.chunks.append(chunk)
                    cost = self._tokens(passage) - before
                    if used + cost > self._options.budget_tokens:
                        passage.chunks.remove(chunk)
                        continue
                    used += cost
                    neighbour = chunk.prev_chunk_id if at_start else chunk.next_chunk_id
                    if neighbour is not None:
                        wanted.append(neighbour)
            if not wanted:
                break
        return used


def _deduplicate(hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """Keep the best-ranked copy of each chunk id and of each distinct text."""
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    unique: list[ScoredChunk] = []
    for hit in hits:
        text = _SPACE.sub(" ", hit.chunk.text).strip().lower()
        if hit.chunk.chunk_id in seen_ids or text in seen_texts:
            continue
        seen_ids.add(hit.chunk.chunk_id)
        seen_texts.add(text)
        unique.append(hit)
    return unique


def _merge_adjacent(hits: Sequence[ScoredChunk]) -> list[_Passage]:
    """Group hits that are consecutive chunks of one section; a group ranks by its best hit."""
    passages: list[_Passage] = []
    by_chunk: dict[str, _Passage] = {}
    for hit in hits:  # best first, so a passage's score is its first (best) hit's
        chunk = hit.chunk
        passage = by_chunk.get(chunk.prev_chunk_id or "") or by_chunk.get(chunk.next_chunk_id or "")
        if passage is not None and passage.first.section_path == chunk.section_path:
            if chunk.prev_chunk_id == passage.last.chunk_id:
                passage.chunks.append(chunk)
            else:
                passage.chunks.insert(0, chunk)
        else:
            passage = _Passage([chunk], hit.score)
            passages.append(passage)
        passage.hit_ids.add(chunk.chunk_id)
        by_chunk[chunk.chunk_id] = passage
    return passages


def _join(chunks: Sequence[Chunk]) -> str:
    """Concatenate consecutive chunks, dropping the overlap the chunker repeated between them."""
    text = chunks[0].text
    for chunk in chunks[1:]:
        text = text + "\n" + chunk.text[_overlap(text, chunk.text) :].lstrip()
    return text


def _overlap(left: str, right: str) -> int:
    """Length of the longest run of whole words that ends ``left`` and starts ``right``.

    Runs shorter than ``_MIN_OVERLAP`` characters are ignored, so a shared word such as "a"
    is not mistaken for the chunker's overlap.
    """
    tail = left[-2000:]
    for start in range(len(tail) - _MIN_OVERLAP + 1):
        candidate = tail[start:]
        if not right.startswith(candidate):
            continue
        starts_word = start == 0 or not tail[start - 1].isalnum()
        ends_word = len(candidate) == len(right) or not right[len(candidate)].isalnum()
        if starts_word and ends_word:
            return len(candidate)
    return 0


def _source(number: int, passage: _Passage, tokens: int) -> Source:
    pages = sorted({page for chunk in passage.chunks for page in chunk.pages})
    first = passage.first
    return Source(
        number=number,
        doc_id=first.doc_id,
        chunk_ids=tuple(c.chunk_id for c in passage.chunks),
        title=first.title,
        source_uri=first.source_uri,
        section_path=first.section_path,
        pages=tuple(pages),
        text=_join(passage.chunks),
        score=passage.score,
        token_count=tokens,
    )


def _pages(pages: Sequence[int]) -> str:
    if not pages:
        return ""
    if len(pages) == 1:
        return f"p. {pages[0]}"
    return f"pp. {pages[0]}-{pages[-1]}"
