"""The small handbook index the answer-service tests share: three one-chunk documents (the
salary bands readable by hr only) in a real qdrant-client in-memory index, with the hashing
fake embedder."""

from collections.abc import Iterator

import pytest

from core.ids import chunk_id, document_id
from core.models import Acl, Chunk
from retrieval.index import IndexedChunk
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from tests.unit.generation.fakes import FakeEmbedder

TEXTS = {
    "leave.md": "Employees accrue 1.75 days of paid vacation per month.",
    "expenses.md": "Meals are reimbursed up to $75 per day while travelling.",
    "salaries.md": "The salary band for an L3 engineer is $128,000 to $152,000.",
}


@pytest.fixture
def index() -> Iterator[QdrantClientIndex]:
    embedder, sparse = FakeEmbedder(), QdrantBm25Encoder()
    index = QdrantClientIndex(location=":memory:", dimension=FakeEmbedder.dimension).open()
    points = []
    for name, text in TEXTS.items():
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
            acl=Acl(groups=("hr",) if name == "salaries.md" else ("public",)),
        )
        points.append(
            IndexedChunk(
                chunk=chunk,
                dense=embedder.embed_documents([chunk.embedding_text()])[0],
                sparse=sparse.encode_document(chunk.embedding_text()),
            )
        )
    index.upsert(points)
    yield index
    index.close()
