"""The ``VectorIndex`` contract, held against both adapters: qdrant-edge and qdrant-client.

Most checks use small hand-built chunks with deterministic synthetic vectors; one (``model``)
embeds real text with the shipped MiniLM and Qdrant's BM25 and compares the two adapters.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from api import composition
from core.errors import ConfigError, IndexStoreError, StoreLockedError
from core.ids import chunk_id
from core.models import Acl
from core.settings import Settings
from retrieval.embedder import Embedder
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from retrieval.query import FusionMethod, SearchFilters, SearchMode
from retrieval.sparse import SparseVector
from tests.contract.conftest import Adapter, new_adapter
from tests.contract.helpers import (
    assert_same_ranking,
    gaussian,
    ids,
    make_chunk,
    near,
    point,
    query,
    random_terms,
    scope,
    terms,
    visible,
)

MODES = tuple(SearchMode)
UTC_2024 = datetime(2024, 1, 1, tzinfo=UTC)


# -- writes and reads ------------------------------------------------------------------------


def test_upsert_is_idempotent_and_counted(index: Adapter) -> None:
    a = [make_chunk("a", ordinal=i) for i in range(3)]
    b = [make_chunk("b", ordinal=i) for i in range(2)]
    points = [point(c, gaussian(i)) for i, c in enumerate(a + b)]
    index.upsert(points)
    index.upsert(points)
    index.upsert([])
    assert index.count() == 5
    assert index.count(a[0].doc_id) == 3
    assert index.count(b[0].doc_id) == 2
    assert index.count(make_chunk("missing").doc_id) == 0


def test_get_chunks_round_trips_every_field_in_version_and_ordinal_order(index: Adapter) -> None:
    rich = make_chunk("a", version=1, ordinal=1).model_copy(
        update={
            "section_path": ("Leave", "Parental leave"),
            "pages": (3, 4),
            "element_types": ("Table",),
            "table_html": "<table><tr><td>16 weeks</td></tr></table>",
            "prev_chunk_id": chunk_id("x", 1, 0),
            "next_chunk_id": chunk_id("x", 1, 2),
            "token_count": 57,
            "tenant": "acme",
            "modified_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
            "file_type": "docx",
        }
    )
    chunks = [make_chunk("a", version=v, ordinal=o) for v in (2, 1) for o in (2, 0, 1)]
    chunks = [rich if (c.version, c.ordinal) == (1, 1) else c for c in chunks]
    index.upsert([point(c, gaussian(i)) for i, c in enumerate(chunks)])
    index.upsert([point(make_chunk("b"), gaussian(99))])

    stored = index.get_chunks(rich.doc_id)
    assert stored == sorted(chunks, key=lambda c: (c.version, c.ordinal))
    assert [(c.version, c.ordinal) for c in stored] == [(v, o) for v in (1, 2) for o in (0, 1, 2)]
    assert index.get_chunks(make_chunk("missing").doc_id) == []


def test_delete_document_keep_version_and_delete_version(index: Adapter) -> None:
    old = [make_chunk("a", version=1, ordinal=i) for i in range(2)]
    new = [make_chunk("a", version=2, ordinal=i) for i in range(3)]
    other = make_chunk("b")
    index.upsert([point(c, gaussian(i)) for i, c in enumerate([*old, *new, other])])
    doc = old[0].doc_id
    assert index.document_ids() == {doc, other.doc_id}

    index.delete_document(doc, keep_version=2)
    assert index.get_chunks(doc) == new
    assert index.count() == 4

    index.delete_document_version(doc, 1)  # nothing left of version 1: a no-op
    index.delete_document_version(doc, 2)
    assert index.count(doc) == 0
    assert index.document_ids() == {other.doc_id}

    index.upsert([point(c, gaussian(i)) for i, c in enumerate(old)])
    index.delete_document(doc)
    index.delete_document(make_chunk("missing").doc_id)
    assert index.count() == 1
    assert index.document_ids() == {other.doc_id}
    index.delete_document(other.doc_id)
    assert index.document_ids() == set()


def test_set_acl_changes_who_sees_a_document_without_touching_vectors(index: Adapter) -> None:
    a = [make_chunk("a", ordinal=i, groups=("hr",)) for i in range(2)]
    b = make_chunk("b", groups=("hr",))
    index.upsert([point(c, gaussian(10 + i)) for i, c in enumerate([*a, b])])
    alice, carol = scope("alice"), scope("carol", ["hr"])
    a_ids = set(ids(a))
    assert visible(index, alice) == set()
    dense = query(SearchMode.DENSE)
    before = {r.chunk.chunk_id: r.score for r in index.search(dense, carol, SearchFilters())}

    index.set_acl(a[0].doc_id, Acl(users=("alice",)))
    assert {c.acl for c in index.get_chunks(a[0].doc_id)} == {Acl(users=("alice",))}
    assert index.get_chunks(b.doc_id) == [b]
    for mode in MODES:
        assert visible(index, alice, mode=mode) == a_ids
        assert visible(index, carol, mode=mode) == {b.chunk_id}
    assert set(ids(index.fetch(list(a_ids), alice))) == a_ids
    assert index.fetch(list(a_ids), carol) == []
    after = {r.chunk.chunk_id: r.score for r in index.search(dense, alice, SearchFilters())}
    assert after == pytest.approx({k: before[k] for k in a_ids})

    index.set_acl(a[0].doc_id, Acl())
    assert visible(index, alice) == set()
    assert index.count() == 3


def test_empty_sparse_vector_is_stored_and_only_dense_finds_it(index: Adapter) -> None:
    silent = make_chunk("stopwords")
    index.upsert([point(silent, gaussian(1), SparseVector(indices=(), values=()))])
    index.upsert([point(make_chunk("b"), gaussian(2))])
    assert index.count() == 2
    assert silent.chunk_id in visible(index, scope(), mode=SearchMode.DENSE)
    assert silent.chunk_id not in visible(index, scope(), mode=SearchMode.SPARSE)
    assert silent.chunk_id in visible(index, scope(), mode=SearchMode.HYBRID)


# -- filters ---------------------------------------------------------------------------------

FILTER_CORPUS = {
    "hr-policy": ("file:///docs/hr/policy.md", "acme", "md", datetime(2024, 3, 1, tzinfo=UTC)),
    "hr-nested": (
        "file:///docs/hr/benefits/dental.md",
        "acme",
        "md",
        datetime(2024, 6, 1, tzinfo=UTC),
    ),
    "hr-archive": ("file:///docs/hr-archive/old.pdf", "acme", "pdf", datetime(2023, 1, 1)),
    "hr-sibling": ("file:///docs/hr.md", "acme", "md", None),
    "eng-guide": ("file:///docs/eng/guide.docx", "globex", "docx", None),
    "readme": ("file:///readme.txt", None, "txt", datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
}
ALL = set(FILTER_CORPUS)
DOCS = ALL - {"readme"}
PLUS_ONE = timezone(timedelta(hours=1))


def _filter_corpus(index: Adapter) -> dict[str, str]:
    chunks = {
        name: make_chunk(name, source_uri=uri, tenant=tenant, file_type=kind, modified_at=when)
        for name, (uri, tenant, kind, when) in FILTER_CORPUS.items()
    }
    index.upsert([point(c, gaussian(i)) for i, c in enumerate(chunks.values())])
    return {c.chunk_id: name for name, c in chunks.items()}


@pytest.mark.parametrize(
    ("tenant", "filters", "expected"),
    [
        (None, SearchFilters(), ALL),
        ("acme", SearchFilters(), {"hr-policy", "hr-nested", "hr-archive", "hr-sibling"}),
        (None, SearchFilters(tenant="globex"), {"eng-guide"}),
        ("acme", SearchFilters(tenant="globex"), set()),
        (None, SearchFilters(file_types=("pdf", "docx")), {"hr-archive", "eng-guide"}),
        (None, SearchFilters(path_prefix="file:///docs/hr"), {"hr-policy", "hr-nested"}),
        (None, SearchFilters(path_prefix="file:///docs/hr/"), {"hr-policy", "hr-nested"}),
        (None, SearchFilters(path_prefix="file:///docs/hr/policy.md"), {"hr-policy"}),
        (None, SearchFilters(path_prefix="file:///docs"), DOCS),
        (None, SearchFilters(path_prefix="file:///doc"), set()),
        (None, SearchFilters(modified_after=UTC_2024), {"hr-policy", "hr-nested", "readme"}),
        (None, SearchFilters(modified_before=UTC_2024), {"hr-archive"}),
        (
            None,
            SearchFilters(
                modified_after=datetime(2024, 3, 1, tzinfo=UTC),
                modified_before=datetime(2024, 6, 1, tzinfo=UTC),
            ),
            {"hr-policy", "hr-nested"},
        ),
        (None, SearchFilters(modified_after=datetime(2024, 12, 31, 23, 0)), {"readme"}),
        (None, SearchFilters(modified_after=datetime(2025, 1, 1, tzinfo=PLUS_ONE)), {"readme"}),
        (None, SearchFilters(modified_after=datetime(2024, 12, 31, 23, 0, 1)), set()),
        (
            "acme",
            SearchFilters(
                file_types=("md",),
                path_prefix="file:///docs/hr",
                modified_after=datetime(2024, 4, 1, tzinfo=UTC),
            ),
            {"hr-nested"},
        ),
    ],
    ids=lambda value: repr(value) if not isinstance(value, SearchFilters) else None,
)
def test_filters_hold_in_every_mode(
    index: Adapter, tenant: str | None, filters: SearchFilters, expected: set[str]
) -> None:
    names = _filter_corpus(index)
    for mode in MODES:
        found = visible(index, scope("alice", tenant=tenant), filters, mode=mode)
        assert {names[i] for i in found} == expected, mode


# -- access control --------------------------------------------------------------------------

ACL_CORPUS = {
    "alice-only": Acl(users=("alice",)),
    "hr": Acl(groups=("hr",)),
    "public": Acl(groups=("public",)),
    "nobody": Acl(),
    "hr-or-bob": Acl(users=("bob",), groups=("hr",)),
}


@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [
        ("alice", (), {"alice-only", "public"}),
        ("bob", (), {"hr-or-bob", "public"}),
        ("carol", ("hr",), {"hr", "hr-or-bob", "public"}),
        ("dave", ("eng",), {"public"}),
        ("hr", (), {"public"}),  # a user id is not a group
        ("root", ("hr", "eng", "public", "admin"), {"hr", "hr-or-bob", "public"}),
    ],
)
def test_acl_user_group_public_and_empty(
    index: Adapter, user: str, groups: tuple[str, ...], expected: set[str]
) -> None:
    chunks = {
        name: make_chunk(name, users=acl.users, groups=acl.groups)
        for name, acl in ACL_CORPUS.items()
    }
    index.upsert([point(c, gaussian(i)) for i, c in enumerate(chunks.values())])
    names = {c.chunk_id: name for name, c in chunks.items()}
    access = scope(user, groups)
    for mode in MODES:
        assert {names[i] for i in visible(index, access, mode=mode)} == expected, mode
    fetched = index.fetch([c.chunk_id for c in chunks.values()], access)
    assert {names[c.chunk_id] for c in fetched} == expected


def test_fetch_respects_scope_and_skips_missing_ids(index: Adapter) -> None:
    mine = make_chunk("mine", users=("alice",))
    theirs = make_chunk("theirs", groups=("hr",))
    other_tenant = make_chunk("other", groups=("public",), tenant="globex")
    index.upsert([point(c, gaussian(i)) for i, c in enumerate([mine, theirs, other_tenant])])
    wanted = [mine.chunk_id, theirs.chunk_id, other_tenant.chunk_id, chunk_id("gone", 1, 0)]
    by_id = sorted([mine, other_tenant], key=lambda c: c.chunk_id)
    assert sorted(index.fetch(wanted, scope("alice")), key=lambda c: c.chunk_id) == by_id
    assert index.fetch(wanted, scope("alice", tenant="acme")) == []
    assert index.fetch(wanted, scope("carol", ["hr"], tenant="globex")) == [other_tenant]
    assert index.fetch([], scope("alice")) == []


@pytest.mark.parametrize("fusion", list(FusionMethod))
@pytest.mark.parametrize("exact", [True, False])
def test_forbidden_nearest_chunks_never_leak_or_shorten_results(
    index: Adapter, fusion: FusionMethod, exact: bool
) -> None:
    target = gaussian(1)
    hot = terms(1, 2, 3, weight=2.0)
    forbidden = [make_chunk(f"secret-{i}", groups=("board",), tenant="acme") for i in range(20)]
    forbidden += [make_chunk(f"foreign-{i}", tenant="globex") for i in range(5)]
    forbidden += [make_chunk(f"hidden-{i}", groups=(), tenant="acme") for i in range(5)]
    allowed = [make_chunk(f"open-{i}", tenant="acme") for i in range(10)]
    points = [point(c, near(target, 0.01, 100 + i), hot) for i, c in enumerate(forbidden)]
    points += [point(c, gaussian(200 + i), terms(3, 10 + i)) for i, c in enumerate(allowed)]
    index.upsert(points)
    access = scope("alice", tenant="acme")
    allowed_ids = set(ids(allowed))
    for mode in MODES:
        for limit, prefetch in ((5, 5), (50, 5), (50, 100)):
            options = {"fusion": fusion, "prefetch_limit": prefetch, "exact": exact}
            request = query(mode, dense=target, sparse=terms(1, 2, 3), limit=limit, **options)
            found = ids(index.search(request, access, SearchFilters()))
            assert set(found) <= allowed_ids, (mode, limit)
            # Never shortened by forbidden candidates: a hybrid query fuses two branches of
            # ``prefetch`` readable chunks each, a single-stage query fills its limit.
            fullest = min(limit, len(allowed_ids))
            if mode is SearchMode.HYBRID:
                assert min(fullest, prefetch) <= len(found) <= fullest, (mode, limit, prefetch)
            else:
                assert len(found) == fullest, (mode, limit, prefetch)


def test_search_on_empty_index_and_malformed_query(index: Adapter) -> None:
    for mode in MODES:
        assert index.search(query(mode), scope(), SearchFilters()) == []
    index.upsert([point(make_chunk("a"), gaussian(1))])
    with pytest.raises(IndexStoreError):
        index.search(query(SearchMode.DENSE, dense=[1.0, 0.0]), scope(), SearchFilters())


# -- the adapters agree ------------------------------------------------------------------------

RANKINGS: list[dict[str, object]] = [
    {"mode": SearchMode.DENSE},
    {"mode": SearchMode.SPARSE},
    {"mode": SearchMode.HYBRID},
    {"mode": SearchMode.HYBRID, "rrf_k": 5, "prefetch_limit": 15},
    {"mode": SearchMode.HYBRID, "weights": (2.0, 0.5)},
    {"mode": SearchMode.HYBRID, "fusion": FusionMethod.DBSF},
]


@pytest.mark.parametrize("ranking", RANKINGS, ids=lambda r: "-".join(map(str, r.values())))
def test_adapters_rank_a_synthetic_corpus_alike(
    both: tuple[Adapter, Adapter], ranking: dict[str, object]
) -> None:
    rng = random.Random(7)
    groups = ("public", "hr", "eng")
    chunks = [
        make_chunk(f"doc-{i // 3}", ordinal=i % 3, groups=rng.sample(groups, rng.randint(0, 2)))
        for i in range(60)
    ]
    points = [point(c, gaussian(i), random_terms(1000 + i)) for i, c in enumerate(chunks)]
    for adapter in both:
        adapter.upsert(points)
    edge, client = both
    mode = ranking.pop("mode")
    assert isinstance(mode, SearchMode)
    for seed in range(6):
        request = query(
            mode,
            dense=gaussian(5000 + seed),
            sparse=random_terms(6000 + seed, size=3),
            limit=12,
            **ranking,
        )
        for access in (scope("bob", ["hr"]), scope("alice")):
            assert_same_ranking(
                edge.search(request, access, SearchFilters()),
                client.search(request, access, SearchFilters()),
            )


CORPUS_TEXTS = {
    "vacation": "Employees receive 25 days of paid vacation per year; unused days carry over.",
    "expenses": "Submit travel expense reports within 30 days, with every receipt attached.",
    "laptops": "Laptops must use full-disk encryption and lock after five idle minutes.",
    "onboarding": "New hires meet their buddy on day one and finish security training in week one.",
    "parental": "Parents may take up to 16 weeks of paid parental leave after a birth or adoption.",
    "remote": "Staff may work remotely up to three days a week with their manager's approval.",
    "payroll": "Salaries are paid on the last working day of each month by bank transfer.",
    "helpdesk": "Call the IT help desk to reset a forgotten password or unlock an account.",
    "layoffs": "Confidential: planned layoffs, salary bands and vacation cuts for next year.",
}
REAL_QUERIES = {
    "how many vacation days do I get": "vacation",
    "reset my password": "helpdesk",
    "deadline for expense receipts": "expenses",
    "paid leave after having a baby": "parental",
}


@pytest.mark.model
def test_adapters_agree_on_real_embeddings_and_bm25(
    open_both: Callable[[int], tuple[Adapter, Adapter]], real_embedder: Embedder
) -> None:
    bm25 = QdrantBm25Encoder()
    chunks = {
        name: make_chunk(name, text=text, groups=("board",) if name == "layoffs" else ("public",))
        for name, text in CORPUS_TEXTS.items()
    }
    texts = [c.embedding_text() for c in chunks.values()]
    dense = real_embedder.embed_documents(texts)
    points = [
        point(c, vector, bm25.encode_document(text))
        for c, vector, text in zip(chunks.values(), dense, texts, strict=True)
    ]
    edge, client = open_both(real_embedder.dimension)
    for adapter in (edge, client):
        adapter.upsert(points)
    names = {c.chunk_id: name for name, c in chunks.items()}
    for text, best in REAL_QUERIES.items():
        vector, sparse = real_embedder.embed_query(text), bm25.encode_query(text)
        for mode in MODES:
            request = query(mode, dense=vector, sparse=sparse, limit=5)
            for access in (scope("alice"), scope("ceo", ["board"])):
                left = edge.search(request, access, SearchFilters())
                right = client.search(request, access, SearchFilters())
                assert_same_ranking(left, right, rel=1e-3)
                assert names[left[0].chunk.chunk_id] == best, (text, mode)
                if access.groups == ("public",):
                    assert "layoffs" not in {names[i] for i in ids(left)}


# -- life cycle ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["qdrant-edge", "qdrant-client-disk"])
def test_store_persists_and_admits_one_opener(store_dir: Path, kind: str) -> None:
    chunks = [make_chunk("a", ordinal=i) for i in range(3)]
    with new_adapter(kind, store_dir).open() as index:
        index.upsert([point(c, gaussian(i)) for i, c in enumerate(chunks)])
        with pytest.raises(StoreLockedError):
            new_adapter(kind, store_dir).open()
    with new_adapter(kind, store_dir) as index:
        assert index.count() == 3
        assert index.get_chunks(chunks[0].doc_id) == chunks
        assert visible(index, scope()) == set(ids(chunks))


@pytest.mark.parametrize("kind", ["qdrant-edge", "qdrant-client", "qdrant-client-disk"])
def test_unopened_or_closed_index_raises_index_store_error(store_dir: Path, kind: str) -> None:
    index = new_adapter(kind, store_dir)
    with pytest.raises(IndexStoreError):
        index.count()
    index.open()
    index.close()
    index.close()
    with pytest.raises(IndexStoreError):
        index.search(query(), scope(), SearchFilters())


def test_client_index_needs_one_location_and_a_matching_dimension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        QdrantClientIndex(dimension=8)
    with pytest.raises(ConfigError):
        QdrantClientIndex(location=":memory:", path=tmp_path, dimension=8)
    with QdrantClientIndex(path=tmp_path / "q", dimension=8):
        pass
    with pytest.raises(ConfigError, match="16-d"):
        QdrantClientIndex(path=tmp_path / "q", dimension=16).open()
    with QdrantClientIndex(path=tmp_path / "q", dimension=8) as reopened:
        assert reopened.count() == 0


def test_build_index_follows_the_backend_setting(tmp_path: Path) -> None:
    edge = composition.build_index(Settings.load(data_dir=tmp_path))
    assert isinstance(edge, QdrantEdgeIndex)
    local = composition.build_index(Settings.load(data_dir=tmp_path, index={"backend": "qdrant"}))
    assert isinstance(local, QdrantClientIndex)
    assert local.is_local
    with local as opened:
        opened.upsert([point(make_chunk("a"), [1.0] * 384)])
    assert (tmp_path / "index-qdrant").is_dir()
    with composition.open_store(
        Settings.load(data_dir=tmp_path, index={"backend": "qdrant"})
    ) as store:
        assert isinstance(store.index, QdrantClientIndex)
        assert store.index.count() == 1
    remote = composition.build_index(
        Settings.load(
            data_dir=tmp_path,
            index={"backend": "qdrant", "url": "http://qdrant.invalid:6333", "collection": "c"},
        )
    )
    assert isinstance(remote, QdrantClientIndex)
    assert not remote.is_local


def test_unreachable_server_is_a_retryable_index_store_error() -> None:
    index = QdrantClientIndex(location="http://127.0.0.1:9", dimension=8, timeout=2)
    with pytest.raises(IndexStoreError) as raised:
        index.open()
    assert raised.value.retryable
    with pytest.raises(IndexStoreError):
        index.count()
