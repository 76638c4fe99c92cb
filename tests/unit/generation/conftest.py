"""The small handbook index the answer-service tests share: three one-chunk documents (the
salary bands readable by hr only) in a real qdrant-client in-memory index, with the hashing
fake embedder."""

from collections.abc import Iterator

import pytest

from core.models import Acl
from retrieval.qdrant_client_index import QdrantClientIndex
from tests.unit.generation.fakes import one_chunk_index

TEXTS = {
    "leave.md": "Employees accrue 1.75 days of paid vacation per month.",
    "expenses.md": "Meals are reimbursed up to $75 per day while travelling.",
    "salaries.md": "The salary band for an L3 engineer is $128,000 to $152,000.",
}


@pytest.fixture
def index() -> Iterator[QdrantClientIndex]:
    index = one_chunk_index(
        [
            (name, text, Acl(groups=("hr",) if name == "salaries.md" else ("public",)))
            for name, text in TEXTS.items()
        ]
    )
    yield index
    index.close()
