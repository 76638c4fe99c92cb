"""The search service: text query → vectors → one filtered index query → optional rerank."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import InvalidInputError
from core.models import Principal
from core.tracing import NOOP_TRACER, AttributeValue, Tracer
from retrieval.embedder import Embedder
from retrieval.index import VectorIndex
from retrieval.query import (
    AccessScope,
    FusionMethod,
    ScoredChunk,
    SearchFilters,
    SearchMode,
    VectorQuery,
)
from retrieval.rerank import Reranker
from retrieval.sparse import SparseEncoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankingOptions:
    """Defaults for how results are ranked (see ``SearchSettings``)."""

    mode: SearchMode = SearchMode.HYBRID
    fusion: FusionMethod = FusionMethod.DBSF
    rrf_k: int = 60
    weights: tuple[float, float] | None = None
    prefetch_limit: int = 100
    hnsw_ef: int | None = 128
    k: int = 8
    rerank_depth: int = 30


class Searcher:
    """Hybrid (dense + BM25) search over a ``VectorIndex`` on behalf of a principal.

    The principal is a required argument of ``search``: the index query is built from its
    access scope, so results can only ever contain chunks the principal may read.
    """

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        sparse: SparseEncoder,
        *,
        options: RankingOptions | None = None,
        reranker: Reranker | None = None,
        tracer: Tracer = NOOP_TRACER,
    ) -> None:
        """``tracer`` times each search as a ``search`` span, with the query embedding
        (``search.embed``), the index query (``search.query``) and any rerank inside."""
        self._tracer = tracer
        self._index = index
        self._embedder = embedder
        self._sparse = sparse
        self._options = options or RankingOptions()
        self._reranker = reranker

    @property
    def index(self) -> VectorIndex:
        """The index searched (context assembly reads neighbouring chunks from it)."""
        return self._index

    def warm_up(self) -> None:
        """Load the query embedding model now."""
        self._embedder.warm_up()

    def search(
        self,
        text: str,
        principal: Principal,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        exact: bool = False,
    ) -> list[ScoredChunk]:
        """The best ``k`` chunks for ``text`` that ``principal`` may read, best first.

        ``exact`` bypasses HNSW (brute force), for measuring the approximate index's recall.
        """
        if not text.strip():
            raise InvalidInputError("the search query is empty")
        options = self._options
        mode = mode or options.mode
        limit = k or options.k
        with self._tracer.span("search", **{"search.mode": mode.value, "search.k": limit}) as span:
            hits = self._search(text, principal, mode, limit, filters=filters, exact=exact)
            span.set("search.hits", len(hits))
            span.set("search.top_score", hits[0].score if hits else None)
            return hits

    def _search(
        self,
        text: str,
        principal: Principal,
        mode: SearchMode,
        limit: int,
        *,
        filters: SearchFilters | None,
        exact: bool,
    ) -> list[ScoredChunk]:
        options = self._options
        depth = max(limit, options.rerank_depth) if self._reranker else limit
        with self._tracer.span("search.embed"):
            dense = tuple(self._embedder.embed_query(text)) if mode != SearchMode.SPARSE else None
            sparse = self._sparse.encode_query(text) if mode != SearchMode.DENSE else None
        query = VectorQuery(
            mode=mode,
            dense=dense,
            sparse=sparse,
            limit=depth,
            fusion=options.fusion,
            rrf_k=options.rrf_k,
            weights=options.weights,
            prefetch_limit=max(options.prefetch_limit, depth),
            exact=exact,
            hnsw_ef=options.hnsw_ef,
        )
        attributes: dict[str, AttributeValue | None] = {
            "db.system": "qdrant",
            "index.backend": type(self._index).__name__,
            "query.limit": depth,
            "query.fusion": options.fusion.value if mode is SearchMode.HYBRID else None,
            "query.exact": exact,
        }
        with self._tracer.span("search.query", **attributes) as span:
            hits = self._index.search(
                query, AccessScope.for_principal(principal), filters or SearchFilters()
            )
            span.set("query.hits", len(hits))
        if self._reranker is not None and hits:
            with self._tracer.span("search.rerank", **{"rerank.candidates": len(hits)}):
                hits = self._reranker.rerank(text, hits)
        # Rank fusion ties often, and the engine orders tied points differently from call to
        # call; a stable tie-break on the chunk id makes a search repeatable.
        hits = sorted(hits, key=lambda hit: (-hit.score, hit.chunk.chunk_id))
        return hits[:limit]
