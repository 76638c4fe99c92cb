"""Reranking: an optional second stage that reorders the first stage's top results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from retrieval.query import ScoredChunk


class Reranker(Protocol):
    """Reorders candidates for a query. It may drop candidates but never adds any, so it
    cannot widen what the access filter of the first stage allowed."""

    def rerank(self, query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The candidates, best first, with the reranker's scores."""
        ...
