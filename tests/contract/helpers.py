"""Builders for the contract tests: small hand-made chunks, deterministic vectors, scopes."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime

from core.ids import chunk_id, document_id
from core.models import PUBLIC_GROUP, Acl, Chunk, Principal
from retrieval.index import IndexedChunk, VectorIndex
from retrieval.query import AccessScope, ScoredChunk, SearchFilters, SearchMode, VectorQuery
from retrieval.sparse import SparseVector

DIM = 8
"""Dense dimension of the synthetic vectors (the real-model test uses the model's)."""


def make_chunk(
    name: str,
    *,
    ordinal: int = 0,
    version: int = 1,
    users: Sequence[str] = (),
    groups: Sequence[str] = (PUBLIC_GROUP,),
    tenant: str | None = None,
    file_type: str | None = "md",
    source_uri: str | None = None,
    modified_at: datetime | None = None,
    text: str | None = None,
) -> Chunk:
    """A chunk of the document ``name`` (its URI defaults to ``file:///docs/<name>.md``)."""
    uri = source_uri or f"file:///docs/{name}.md"
    doc = document_id(uri)
    return Chunk(
        chunk_id=chunk_id(doc, version, ordinal),
        doc_id=doc,
        version=version,
        ordinal=ordinal,
        text=text or f"{name} passage {ordinal} of version {version}",
        title=name.title(),
        source_uri=uri,
        file_type=file_type,
        acl=Acl(users=tuple(users), groups=tuple(groups)),
        tenant=tenant,
        modified_at=modified_at,
    )


def gaussian(seed: int, dim: int = DIM) -> list[float]:
    """A deterministic random unit vector."""
    rng = random.Random(seed)
    vector = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def near(base: Sequence[float], distance: float, seed: int) -> list[float]:
    """A vector close to ``base``: ``base`` plus ``distance`` times a random unit vector."""
    noise = gaussian(seed, len(base))
    return [b + distance * n for b, n in zip(base, noise, strict=True)]


def terms(*ids: int, weight: float = 1.0) -> SparseVector:
    """A sparse vector over the given term ids."""
    unique = sorted(set(ids))
    return SparseVector(indices=tuple(unique), values=tuple(weight for _ in unique))


def random_terms(seed: int, vocabulary: int = 24, size: int = 4) -> SparseVector:
    """A deterministic, non-empty sparse vector with continuous term weights (so that sparse
    scores do not tie: the adapters break ties differently)."""
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(vocabulary), size))
    return SparseVector(indices=tuple(ids), values=tuple(rng.uniform(0.5, 2.0) for _ in ids))


def point(chunk: Chunk, dense: Sequence[float], sparse: SparseVector | None = None) -> IndexedChunk:
    """An indexable point (the sparse vector defaults to one term shared by every chunk)."""
    return IndexedChunk(chunk=chunk, dense=list(dense), sparse=sparse or terms(0))


def scope(
    user: str = "alice", groups: Sequence[str] = (), tenant: str | None = None
) -> AccessScope:
    """The access scope of a principal (``public`` is always added)."""
    return AccessScope.for_principal(Principal(user_id=user, groups=tuple(groups), tenant=tenant))


def query(
    mode: SearchMode = SearchMode.HYBRID,
    *,
    dense: Sequence[float] | None = None,
    sparse: SparseVector | None = None,
    limit: int = 10,
    **options: object,
) -> VectorQuery:
    """An exact query; vectors default to the first axis and term 0."""
    return VectorQuery.model_validate(
        {
            "mode": mode,
            "dense": tuple(dense) if dense is not None else tuple(gaussian(0)),
            "sparse": sparse or terms(0),
            "limit": limit,
            "exact": True,
            **options,
        }
    )


def ids(results: Sequence[ScoredChunk] | Sequence[Chunk]) -> list[str]:
    """The chunk ids of results or chunks, in order."""
    return [r.chunk.chunk_id if isinstance(r, ScoredChunk) else r.chunk_id for r in results]


def visible(
    index: VectorIndex,
    access: AccessScope,
    filters: SearchFilters | None = None,
    *,
    mode: SearchMode = SearchMode.DENSE,
    limit: int = 100,
) -> set[str]:
    """Every chunk id the scope finds with the filters (an exact search wide enough for all)."""
    results = index.search(query(mode, limit=limit), access, filters or SearchFilters())
    return set(ids(results))


def assert_same_ranking(
    left: Sequence[ScoredChunk], right: Sequence[ScoredChunk], *, rel: float = 1e-4
) -> None:
    """Two result lists agree: same length, the same scores in order (within ``rel``), and
    the same ids, where chunks with (nearly) equal scores may come in either order and a tie
    at the cut-off may be broken differently."""
    shown = ([(r.chunk.title, r.score) for r in left], [(r.chunk.title, r.score) for r in right])
    assert len(left) == len(right), shown
    for a, b in zip(left, right, strict=True):
        assert math.isclose(a.score, b.score, rel_tol=rel, abs_tol=1e-6), shown
    if not left:
        return
    cutoff = min(r.score for r in left)
    tol = max(abs(cutoff) * rel, 1e-6)
    above_left = {r.chunk.chunk_id for r in left if r.score > cutoff + tol}
    above_right = {r.chunk.chunk_id for r in right if r.score > cutoff + tol}
    assert above_left == above_right, shown
    groups_left = _tie_groups(left, tol)
    groups_right = _tie_groups(right, tol)
    assert groups_left[:-1] == groups_right[:-1], shown


def _tie_groups(results: Sequence[ScoredChunk], tol: float) -> list[frozenset[str]]:
    groups: list[set[str]] = []
    last: float | None = None
    for r in results:
        if last is None or abs(r.score - last) > tol:
            groups.append(set())
        groups[-1].add(r.chunk.chunk_id)
        last = r.score
    return [frozenset(g) for g in groups]
