"""The ``SparseEncoder`` adapter over Qdrant's own BM25 encoder (``qdrant_edge.Bm25``).

Qdrant's BM25 (tokenizer, stemmer, term-frequency weights) runs client-side and the index
applies IDF at query time (``Modifier.Idf``), so the same encoder can feed qdrant-edge and a
Qdrant server alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.sparse import SparseVector

if TYPE_CHECKING:
    import qdrant_edge


class QdrantBm25Encoder:
    """BM25 term weights from ``qdrant_edge.Bm25`` (English stemming and stopwords)."""

    def __init__(self, *, avg_len: float = 256.0, k: float = 1.2, b: float = 0.75) -> None:
        self._avg_len = avg_len
        self._k = k
        self._b = b
        self._model: qdrant_edge.Bm25 | None = None

    def _bm25(self) -> qdrant_edge.Bm25:
        if self._model is None:
            import qdrant_edge as qe

            config = qe.Bm25Config(k=self._k, b=self._b, avg_len=self._avg_len, language="english")
            self._model = qe.Bm25(config)
        return self._model

    def encode_document(self, text: str) -> SparseVector:
        """Encode a passage for indexing."""
        vector = self._bm25().embed_document(text)
        return SparseVector(indices=tuple(vector.indices), values=tuple(vector.values))

    def encode_query(self, text: str) -> SparseVector:
        """Encode a query (each distinct term weighs 1; IDF is applied by the index)."""
        vector = self._bm25().embed_query(text)
        return SparseVector(indices=tuple(vector.indices), values=tuple(vector.values))
