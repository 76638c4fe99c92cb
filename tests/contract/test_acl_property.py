"""Property: no adapter ever returns a chunk its caller may not read, and none hides one it may.

Random principals and random documents (random ACL rules, some documents matched by no rule
and so given the policy's default, random tenants) go into both adapters; every search mode
then runs with random query vectors. Checked against a plain-Python oracle of the access rule:

- soundness: every returned chunk names the user, or one of the user's groups or ``public``,
  and lies in the principal's tenant when it has one;
- completeness: an exact search wide enough for everything returns exactly the readable set
  (for sparse search: the readable chunks sharing a term with the query);
- a document no rule matched is visible exactly as the default groups say.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import PUBLIC_GROUP, Chunk, Principal
from ingest.acl_policy import AclPolicy, AclRule
from retrieval.index import IndexedChunk
from retrieval.query import AccessScope, SearchFilters, SearchMode
from retrieval.sparse import SparseVector
from tests.contract.conftest import ADAPTERS, Adapter, new_adapter
from tests.contract.helpers import gaussian, ids, make_chunk, point, query

USERS = ("alice", "bob", "carol")
GROUPS = ("hr", "eng", "sales")
TENANTS = (None, "t1", "t2")
VOCABULARY = 8


def _subset_of(values: tuple[str, ...], *, min_size: int = 0) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(
        st.sampled_from(values), unique=True, min_size=min_size, max_size=len(values)
    ).map(tuple)


principals = st.builds(
    Principal,
    user_id=st.sampled_from(USERS),
    groups=_subset_of(GROUPS),
    tenant=st.sampled_from(TENANTS),
)
sparse_vectors = st.lists(st.integers(0, VOCABULARY - 1), unique=True, min_size=1, max_size=4).map(
    lambda terms: SparseVector(indices=tuple(sorted(terms)), values=(1.0,) * len(terms))
)


@dataclass(frozen=True)
class DocumentSpec:
    """A document to ingest: its ACL rule (``None``: no rule matches it), tenant, and one
    sparse vector per chunk (dense vectors come from ``seed``)."""

    rule: tuple[tuple[str, ...], tuple[str, ...]] | None
    tenant: str | None
    seed: int
    sparse: tuple[SparseVector, ...]


@st.composite
def documents(draw: st.DrawFn) -> DocumentSpec:
    rule = draw(st.none() | st.tuples(_subset_of(USERS), _subset_of((*GROUPS, PUBLIC_GROUP))))
    chunks = draw(st.integers(1, 3))
    return DocumentSpec(
        rule=rule,
        tenant=draw(st.sampled_from(TENANTS)),
        seed=draw(st.integers(0, 10_000)),
        sparse=tuple(draw(sparse_vectors) for _ in range(chunks)),
    )


@pytest.fixture(scope="module")
def adapters() -> Iterator[tuple[Adapter, ...]]:
    """Both adapters, opened once for the module and emptied by each example."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="citewise-acl-", dir=shm if shm.is_dir() else None))
    opened = [new_adapter(kind, root).open() for kind in ADAPTERS]
    try:
        yield tuple(opened)
    finally:
        for adapter in opened:
            adapter.close()
        shutil.rmtree(root, ignore_errors=True)


def _ingest(
    specs: list[DocumentSpec], default: tuple[str, ...]
) -> tuple[list[IndexedChunk], set[str]]:
    """Points for every document, with the ACL the policy gives it (a rule naming exactly that
    document, else the default), and the ids of the chunks that got the default."""
    rules = tuple(
        AclRule(glob=f"ruled/doc-{i}.md", users=spec.rule[0], groups=spec.rule[1])
        for i, spec in enumerate(specs)
        if spec.rule is not None
    )
    policy = AclPolicy(default=default, rules=rules)
    points: list[IndexedChunk] = []
    defaulted: set[str] = set()
    for i, spec in enumerate(specs):
        relative = PurePosixPath(f"{'ruled' if spec.rule is not None else 'plain'}/doc-{i}.md")
        acl = policy.acl_for(relative)
        if spec.rule is None:
            assert acl == AclPolicy.default_only(default).acl_for(relative)
        rng = random.Random(spec.seed)
        for ordinal, sparse in enumerate(spec.sparse):
            chunk = make_chunk(
                f"doc-{i}",
                ordinal=ordinal,
                source_uri=f"file:///corpus/{relative}",
                users=acl.users,
                groups=acl.groups,
                tenant=spec.tenant,
            )
            points.append(point(chunk, gaussian(rng.randrange(1 << 30)), sparse))
            if spec.rule is None:
                defaulted.add(chunk.chunk_id)
    return points, defaulted


def _readable(chunk: Chunk, principal: Principal) -> bool:
    """The access rule, written independently of the filter translation."""
    groups = {*principal.groups, PUBLIC_GROUP}
    allowed = principal.user_id in chunk.acl.users or bool(groups & set(chunk.acl.groups))
    in_tenant = principal.tenant is None or chunk.tenant == principal.tenant
    return allowed and in_tenant


def _reset(index: Adapter) -> None:
    for doc_id in index.document_ids():
        index.delete_document(doc_id)
    assert index.count() == 0


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(documents(), min_size=1, max_size=10),
    default=_subset_of((*GROUPS, PUBLIC_GROUP), min_size=1),
    callers=st.lists(principals, min_size=1, max_size=3),
    query_seed=st.integers(0, 10_000),
    query_terms=sparse_vectors,
    k=st.integers(1, 6),
)
def test_search_returns_exactly_what_the_caller_may_read(
    adapters: tuple[Adapter, ...],
    *,
    specs: list[DocumentSpec],
    default: tuple[str, ...],
    callers: list[Principal],
    query_seed: int,
    query_terms: SparseVector,
    k: int,
) -> None:
    points, defaulted = _ingest(specs, default)
    chunks = [p.chunk for p in points]
    for index in adapters:
        _reset(index)
        index.upsert(points)

    query_vector = gaussian(query_seed)
    matching_terms = {
        p.chunk.chunk_id for p in points if set(p.sparse.indices) & set(query_terms.indices)
    }
    for principal in callers:
        access = AccessScope.for_principal(principal)
        readable = {c.chunk_id for c in chunks if _readable(c, principal)}
        findable = {
            SearchMode.DENSE: readable,
            SearchMode.SPARSE: readable & matching_terms,
            SearchMode.HYBRID: readable,
        }
        # The default groups decide alone who sees a document that no rule matched.
        sees_default = bool(set(default) & {*principal.groups, PUBLIC_GROUP})
        for chunk in chunks:
            if chunk.chunk_id in defaulted:
                in_tenant = principal.tenant in (None, chunk.tenant)
                assert (chunk.chunk_id in readable) == (sees_default and in_tenant)

        for mode in SearchMode:
            everything = query(
                mode, dense=query_vector, sparse=query_terms, limit=len(chunks), exact=True
            )
            top_k = query(mode, dense=query_vector, sparse=query_terms, limit=k, exact=False)
            answers = []
            for index in adapters:
                complete = set(ids(index.search(everything, access, SearchFilters())))
                assert complete == findable[mode], (type(index).__name__, mode, principal)
                best = ids(index.search(top_k, access, SearchFilters()))
                assert set(best) <= readable, (type(index).__name__, mode, principal)
                assert len(best) == min(k, len(findable[mode])), (type(index).__name__, mode)
                answers.append(complete)
            assert all(answer == answers[0] for answer in answers)
        for index in adapters:
            assert set(ids(index.fetch([c.chunk_id for c in chunks], access))) == readable
