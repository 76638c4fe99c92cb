"""Translate our queries and filter conditions into qdrant-client (Query API) requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.filters import AnyOf, Condition, DateRange, search_conditions
from retrieval.index import DENSE_VECTOR, SPARSE_VECTOR
from retrieval.query import AccessScope, FusionMethod, SearchFilters, SearchMode, VectorQuery

if TYPE_CHECKING:
    from qdrant_client import models


@dataclass(frozen=True)
class ClientQuery:
    """The arguments of one ``QdrantClient.query_points`` call (besides the collection)."""

    query: models.SparseVector | list[float] | models.RrfQuery | models.FusionQuery
    using: str | None
    prefetch: list[models.Prefetch] | None
    query_filter: models.Filter
    search_params: models.SearchParams | None
    limit: int


def client_filter(scope: AccessScope, filters: SearchFilters) -> models.Filter:
    """The access scope and filters as one qdrant-client filter (all conditions must hold)."""
    from qdrant_client import models

    return models.Filter(must=[_condition(c) for c in search_conditions(scope, filters)])


def match_value(key: str, value: str | int) -> models.FieldCondition:
    """``key`` equals ``value`` (a keyword or an integer)."""
    from qdrant_client import models

    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _condition(condition: Condition) -> models.FieldCondition | models.Filter:
    from qdrant_client import models

    if isinstance(condition, AnyOf):
        return models.FieldCondition(
            key=condition.key, match=models.MatchAny(any=list(condition.values))
        )
    if isinstance(condition, DateRange):
        return models.FieldCondition(
            key=condition.key, range=models.DatetimeRange(gte=condition.gte, lte=condition.lte)
        )
    return models.Filter(should=[_condition(c) for c in condition.conditions])


def client_query(query: VectorQuery, scope: AccessScope, filters: SearchFilters) -> ClientQuery:
    """A single-stage (dense or sparse) or two-branch fused (hybrid) query.

    The same filter is attached to every prefetch branch *and* to the fused stage, as in the
    qdrant-edge adapter: each branch must only ever rank readable chunks, or a hybrid result
    could be filled with candidates that the outer filter then drops.
    """
    from qdrant_client import models

    access = client_filter(scope, filters)
    params = models.SearchParams(hnsw_ef=query.hnsw_ef, exact=query.exact)
    if query.mode is SearchMode.DENSE:
        return ClientQuery(_dense(query), DENSE_VECTOR, None, access, params, query.limit)
    if query.mode is SearchMode.SPARSE:
        return ClientQuery(_sparse(query), SPARSE_VECTOR, None, access, params, query.limit)
    branches = [
        models.Prefetch(
            query=_dense(query),
            using=DENSE_VECTOR,
            filter=access,
            params=params,
            limit=query.prefetch_limit,
        ),
        models.Prefetch(
            query=_sparse(query),
            using=SPARSE_VECTOR,
            filter=access,
            params=params,
            limit=query.prefetch_limit,
        ),
    ]
    fusion: models.RrfQuery | models.FusionQuery
    if query.fusion is FusionMethod.DBSF:
        fusion = models.FusionQuery(fusion=models.Fusion.DBSF)
    else:
        weights = list(query.weights) if query.weights else None
        fusion = models.RrfQuery(rrf=models.Rrf(k=query.rrf_k, weights=weights))
    return ClientQuery(fusion, None, branches, access, None, query.limit)


def _dense(query: VectorQuery) -> list[float]:
    if query.dense is None:  # excluded by VectorQuery's validator
        raise ValueError(f"{query.mode} search needs a dense vector")
    return list(query.dense)


def _sparse(query: VectorQuery) -> models.SparseVector:
    from qdrant_client import models

    if query.sparse is None:  # excluded by VectorQuery's validator
        raise ValueError(f"{query.mode} search needs a sparse vector")
    return models.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values))
