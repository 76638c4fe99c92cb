"""Fewer, better passages for a small model: keep the hits closest in meaning to the question.

Hybrid search ranks by fused scores, which are relative: the eighth hit of a question is
returned however far it is from the question. A 1.5B model given eight passages, most of them
about neighbouring topics, often answers from the wrong one (a figure from an awards policy
for a question about bonuses). ``SimilaritySelector`` keeps, in their search order, the hits
whose cosine similarity to the question is within ``margin`` of the best hit's, so the prompt
holds the passages that are about the question and little else. Whether it helps is measured
on the development sets (evals/RESULTS.md, "Passage selection").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.embedder import Embedder
from retrieval.query import ScoredChunk


class SimilaritySelector:
    """Keeps the hits within ``margin`` cosine of the question's closest hit (at least
    ``min_passages`` of them, in search order)."""

    def __init__(self, embedder: Embedder, *, margin: float, min_passages: int = 2) -> None:
        if margin < 0:
            raise ValueError("margin must be >= 0")
        self._embedder = embedder
        self._margin = margin
        self._min = min_passages

    def select(self, question: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The hits worth showing the model for ``question``, best-ranked first."""
        if len(hits) <= self._min:
            return list(hits)
        query = np.asarray(self._embedder.embed_query(question), dtype=np.float32)
        passages = np.asarray(
            self._embedder.embed_documents([h.chunk.embedding_text() for h in hits]),
            dtype=np.float32,
        )
        norms = np.linalg.norm(passages, axis=1) * max(float(np.linalg.norm(query)), 1e-9)
        cosine = passages @ query / np.where(norms == 0, 1.0, norms)
        floor = float(cosine.max()) - self._margin
        by_similarity = set(np.argsort(-cosine)[: self._min].tolist())
        return [h for i, h in enumerate(hits) if cosine[i] >= floor or i in by_similarity]
