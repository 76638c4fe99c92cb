"""Search over the ingested sample corpus with the real parser, model, BM25 and qdrant-edge."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import yaml

from api import composition
from core.models import Acl, Principal
from core.settings import Settings
from ingest.acl_policy import AclPolicy
from retrieval.embedder import Embedder
from retrieval.query import AccessScope, SearchFilters, SearchMode
from retrieval.search import Searcher
from tests.conftest import SAMPLE_ACL, SAMPLE_CORPUS

pytestmark = [pytest.mark.slow, pytest.mark.model]

QUESTIONS = yaml.safe_load((SAMPLE_CORPUS.parent / "questions.yaml").read_text())
EMPLOYEE = Principal(user_id="eve")
HR = Principal(user_id="hana", groups=("hr",))
OLD = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder
) -> Iterator[composition.Store]:
    """The sample corpus ingested once; the expense policy's file is dated 2020."""
    root = tmp_path_factory.mktemp("search")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    os.utime(corpus / "policies" / "expenses.html", (OLD.timestamp(), OLD.timestamp()))
    settings = Settings.load(data_dir=root / "data", ingest={"workers": 0})
    with composition.open_store(settings, embedder=real_embedder) as store:
        summary = composition.build_pipeline(settings, store).run(
            [corpus], policy=AclPolicy.from_file(SAMPLE_ACL)
        )
        assert summary.added >= 10
        yield store


@pytest.fixture(scope="module")
def searcher(store: composition.Store, real_embedder: Embedder) -> Searcher:
    settings = Settings.load()
    return composition.build_searcher(settings, store.index, embedder=real_embedder)


def _documents(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.chunk.source_uri.split("/corpus/")[1] for h in hits]


@pytest.mark.parametrize("item", [q for q in QUESTIONS if q["answerable"]], ids=lambda q: q["id"])
def test_hybrid_finds_the_source_of_every_answerable_sample_question(
    searcher: Searcher, item: dict
) -> None:  # type: ignore[type-arg]
    principal = HR if item["restricted"] else EMPLOYEE
    hits = searcher.search(item["question"], principal, k=5)
    assert item["source"] in _documents(hits)


@pytest.mark.parametrize("mode", list(SearchMode))
def test_restricted_documents_never_reach_a_principal_without_rights(
    searcher: Searcher, mode: SearchMode
) -> None:
    for item in QUESTIONS:
        hits = searcher.search(item["question"], EMPLOYEE, k=20, mode=mode)
        assert not [d for d in _documents(hits) if d.startswith("hr/")], item["id"]
        assert all(h.chunk.acl.is_public for h in hits)
    hr_hits = searcher.search("salary band senior software engineer", HR, k=3, mode=mode)
    assert _documents(hr_hits)[0] == "hr/salary-bands.md"


def test_modes_differ_but_agree_on_an_obvious_query(searcher: Searcher) -> None:
    question = "How much are hotels reimbursed per night?"
    tops = {m: _documents(searcher.search(question, EMPLOYEE, k=1, mode=m))[0] for m in SearchMode}
    assert set(tops.values()) == {"policies/expenses.html"}


def test_filters_apply_inside_the_query(searcher: Searcher, store: composition.Store) -> None:
    question = "How much are hotels reimbursed per night?"
    only_docx = searcher.search(
        question, EMPLOYEE, k=10, filters=SearchFilters(file_types=("docx",))
    )
    assert only_docx and {h.chunk.file_type for h in only_docx} == {"docx"}

    corpus_uri = store.registry.list_documents()[0].source_uri.split("/corpus/")[0] + "/corpus"
    policies = searcher.search(
        question, EMPLOYEE, k=10, filters=SearchFilters(path_prefix=corpus_uri + "/policies")
    )
    assert policies and all(d.startswith("policies/") for d in _documents(policies))
    assert not searcher.search(
        question, EMPLOYEE, filters=SearchFilters(path_prefix=corpus_uri + "/pol")
    )

    old = searcher.search(question, EMPLOYEE, k=10, filters=SearchFilters(modified_before=OLD))
    assert _documents(old) == ["policies/expenses.html"] * len(old) and old
    recent = searcher.search(
        question, EMPLOYEE, k=20, filters=SearchFilters(modified_after=datetime(2021, 1, 1))
    )
    assert "policies/expenses.html" not in _documents(recent)


def test_an_acl_change_takes_effect_on_the_next_search(
    searcher: Searcher, store: composition.Store
) -> None:
    question = "How much are hotels reimbursed per night?"
    doc_id = searcher.search(question, EMPLOYEE, k=1)[0].chunk.doc_id
    store.writer.set_acl(doc_id, Acl(groups=("finance",)))
    try:
        assert doc_id not in {h.chunk.doc_id for h in searcher.search(question, EMPLOYEE, k=50)}
        finance = Principal(user_id="fin", groups=("finance",))
        assert searcher.search(question, finance, k=1)[0].chunk.doc_id == doc_id
    finally:
        store.writer.set_acl(doc_id, Acl(groups=("public",)))


def test_context_numbers_sources_within_the_budget(
    searcher: Searcher, store: composition.Store
) -> None:
    settings = Settings.load(search={"context_tokens": 400, "neighbours": 1})
    assembler = composition.build_context_assembler(settings, store.index)
    question = "How long is paid parental leave?"
    hits = searcher.search(question, EMPLOYEE, k=8)
    context = assembler.assemble(question, hits, AccessScope.for_principal(EMPLOYEE))
    assert context.sources and context.token_count <= 400
    assert [s.number for s in context.sources] == list(range(1, len(context.sources) + 1))
    assert "18 weeks" in context.sources[0].text
    assert context.sources[0].source_uri.endswith("leave-policy.md")
    chunk_ids = [c for s in context.sources for c in s.chunk_ids]
    assert len(chunk_ids) == len(set(chunk_ids))


def test_an_empty_query_is_refused(searcher: Searcher) -> None:
    with pytest.raises(ValueError, match="empty"):
        searcher.search("   ", EMPLOYEE)


def test_the_sample_acl_default_is_explicit(store: composition.Store) -> None:
    hidden = [d for d in store.registry.list_documents() if not d.acl.is_public]
    assert hidden and all(d.source_uri.split("/corpus/")[1].startswith("hr/") for d in hidden)
