"""Translate our queries and filter conditions into qdrant-edge requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrieval.filters import AnyOf, Condition, DateRange, search_conditions
from retrieval.index import DENSE_VECTOR, SPARSE_VECTOR
from retrieval.query import AccessScope, FusionMethod, SearchFilters, SearchMode, VectorQuery

if TYPE_CHECKING:
    import qdrant_edge


def edge_filter(scope: AccessScope, filters: SearchFilters) -> qdrant_edge.Filter:
    """The access scope and filters as one qdrant-edge filter (all conditions must hold)."""
    import qdrant_edge as qe

    return qe.Filter(must=[_condition(c) for c in search_conditions(scope, filters)])


def _condition(condition: Condition) -> Any:
    import qdrant_edge as qe

    if isinstance(condition, AnyOf):
        return qe.FieldCondition(key=condition.key, match=qe.MatchAny(list(condition.values)))
    if isinstance(condition, DateRange):
        return qe.FieldCondition(
            key=condition.key,
            range=qe.RangeDateTime(
                gte=condition.gte.isoformat() if condition.gte else None,
                lte=condition.lte.isoformat() if condition.lte else None,
            ),
        )
    return qe.Filter(should=[_condition(c) for c in condition.conditions])


def edge_request(
    query: VectorQuery, scope: AccessScope, filters: SearchFilters
) -> qdrant_edge.QueryRequest:
    """A single-stage (dense or sparse) or two-branch fused (hybrid) query request.

    The same filter object is attached to every prefetch branch *and* to the fused stage: each
    branch must only ever rank readable chunks, or a hybrid result could be filled with
    candidates that the outer filter then drops.
    """
    import qdrant_edge as qe

    access = edge_filter(scope, filters)
    params = qe.SearchParams(hnsw_ef=query.hnsw_ef, exact=query.exact)
    dense = _dense(query)
    sparse = _sparse(query)
    if query.mode is SearchMode.DENSE:
        return qe.QueryRequest(
            limit=query.limit, query=dense, filter=access, params=params, with_payload=True
        )
    if query.mode is SearchMode.SPARSE:
        return qe.QueryRequest(
            limit=query.limit, query=sparse, filter=access, params=params, with_payload=True
        )
    branches = [
        qe.Prefetch(limit=query.prefetch_limit, query=dense, filter=access, params=params),
        qe.Prefetch(limit=query.prefetch_limit, query=sparse, filter=access, params=params),
    ]
    fusion: Any
    if query.fusion is FusionMethod.DBSF:
        fusion = qe.Fusion.Dbsf()
    else:
        weights = list(query.weights) if query.weights else None
        fusion = qe.Fusion.Rrf(k=query.rrf_k, weights=weights)
    return qe.QueryRequest(
        limit=query.limit, prefetches=branches, query=fusion, filter=access, with_payload=True
    )


def _dense(query: VectorQuery) -> Any:
    import qdrant_edge as qe

    if query.dense is None:
        return None
    return qe.Query.Nearest(list(query.dense), using=DENSE_VECTOR)


def _sparse(query: VectorQuery) -> Any:
    import qdrant_edge as qe

    if query.sparse is None:
        return None
    vector = qe.SparseVector(list(query.sparse.indices), list(query.sparse.values))
    return qe.Query.Nearest(vector, using=SPARSE_VECTOR)
