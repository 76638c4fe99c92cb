"""Fakes for generation's logic tests: a scripted generator, a hashing embedder, sources."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence

from core.ids import chunk_id, document_id
from core.models import Acl, Chunk
from generation.answer_types import GenerationRequest, GenerationResult, GenerationTimings
from retrieval.context import Context, Source
from retrieval.index import IndexedChunk
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder

_WORD = re.compile(r"[^\W_]+")


class FakeGenerator:
    """Replies with scripted texts in turn; counts one token per whitespace-separated word."""

    def __init__(self, replies: Sequence[str] = (), *, context_window: int = 4096) -> None:
        self.replies = list(replies)
        self.requests: list[GenerationRequest] = []
        self.warmed = False
        self._window = context_window

    @property
    def context_window(self) -> int:
        return self._window

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        text = self.replies.pop(0) if self.replies else ""
        return GenerationResult(
            text=text,
            prompt_tokens=sum(self.count_tokens(m.content) for m in request.messages),
            completion_tokens=self.count_tokens(text),
            timings=GenerationTimings(total_s=0.0),
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        text = self.generate(request).text
        yield from re.findall(r"\S+\s*|\s+", text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self) -> None:
        self.warmed = True


class FakeEmbedder:
    """Deterministic bag-of-words vectors: each word (first five letters, lower case) hashed
    into one of 512 dimensions, L2-normalised. Shared words make similar vectors."""

    dimension = 512

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def warm_up(self) -> None:
        pass

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            vector[zlib.crc32(word[:5].encode()) % self.dimension] += 1.0
        norm = sum(x * x for x in vector) ** 0.5 or 1.0
        return [x / norm for x in vector]


def source(
    number: int,
    text: str,
    *,
    title: str | None = None,
    section: tuple[str, ...] = ("Section",),
    pages: tuple[int, ...] = (1,),
    score: float = 0.5,
) -> Source:
    return Source(
        number=number,
        doc_id=f"doc-{number}",
        chunk_ids=(f"chunk-{number}-a", f"chunk-{number}-b"),
        title=title or f"Document {number}",
        source_uri=f"file:///docs/{number}.md",
        section_path=section,
        pages=pages,
        text=text,
        score=score,
        token_count=len(text.split()),
    )


def context(question: str, *texts: str) -> Context:
    sources = tuple(source(n, t) for n, t in enumerate(texts, start=1))
    return Context(
        question=question,
        sources=sources,
        token_count=sum(s.token_count for s in sources),
    )


def one_chunk_index(
    documents: Sequence[tuple[str, str, Acl]], *, tenant: str | None = None
) -> QdrantClientIndex:
    """A real qdrant-client in-memory index of one-chunk documents ``(file name, text, acl)``
    under ``file:///docs/``, embedded with ``FakeEmbedder`` and BM25 (the caller closes it)."""
    embedder, sparse = FakeEmbedder(), QdrantBm25Encoder()
    index = QdrantClientIndex(location=":memory:", dimension=FakeEmbedder.dimension).open()
    points = []
    for name, text, acl in documents:
        uri = f"file:///docs/{name}"
        doc = document_id(uri)
        chunk = Chunk(
            chunk_id=chunk_id(doc, 1, 0),
            doc_id=doc,
            version=1,
            ordinal=0,
            text=text,
            title=name.removesuffix(".md").title(),
            source_uri=uri,
            acl=acl,
            tenant=tenant,
        )
        points.append(
            IndexedChunk(
                chunk=chunk,
                dense=embedder.embed_documents([chunk.embedding_text()])[0],
                sparse=sparse.encode_document(chunk.embedding_text()),
            )
        )
    index.upsert(points)
    return index
