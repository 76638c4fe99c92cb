"""The ``SparseEncoder`` interface and the sparse vectors it makes.

The adapter over Qdrant's own BM25 encoder is ``retrieval/qdrant_edge_bm25.py``.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class SparseVector(BaseModel):
    """Non-zero dimensions and their weights."""

    model_config = ConfigDict(frozen=True)

    indices: tuple[int, ...]
    values: tuple[float, ...]


class SparseEncoder(Protocol):
    """Turns text into sparse lexical vectors."""

    def encode_document(self, text: str) -> SparseVector:
        """Encode an indexed passage (term-frequency weights)."""
        ...

    def encode_query(self, text: str) -> SparseVector:
        """Encode a search query."""
        ...
