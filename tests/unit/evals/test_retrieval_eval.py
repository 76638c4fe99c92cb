"""The retrieval evaluation's plumbing, with fake search and ingestion (no model, no index)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from api import composition
from core.models import Acl, Chunk, FileResult, IngestOutcome, IngestSummary, Principal
from core.settings import Settings
from evals.dataset import CorpusDocument, EvalExample, PrincipalSpec
from evals.retrieval_eval import (
    EvalError,
    document_run,
    evaluate_mode,
    evaluate_retrieval,
    key_by_relative_path,
    key_by_stem,
    markdown_table,
    qrels_of,
    scratch_settings,
    write_corpus,
)
from retrieval.query import ScoredChunk, SearchMode


def hit(uri: str, ordinal: int = 0, score: float = 1.0) -> ScoredChunk:
    chunk = Chunk(
        chunk_id=f"{uri}#{ordinal}",
        doc_id=uri,
        version=1,
        ordinal=ordinal,
        text="text",
        title="title",
        source_uri=uri,
        acl=Acl(groups=("public",)),
    )
    return ScoredChunk(chunk=chunk, score=score)


class FakeIndex:
    def document_ids(self) -> set[str]:
        return {"a", "b"}

    def count(self, doc_id: str | None = None) -> int:
        return 3


class FakeSearcher:
    """Answers each question with fixed file URIs; records who asked in which mode."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, Principal, int | None, SearchMode | None]] = []
        self.index = FakeIndex()

    def search(
        self,
        text: str,
        principal: Principal,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
    ) -> list[ScoredChunk]:
        self.calls.append((text, principal, k, mode))
        uris = self.answers[text]
        return [hit(uri, score=1.0 - i / 100) for i, uri in enumerate(uris)]


class FakePipeline:
    def __init__(self) -> None:
        self.runs: list[tuple[list[Path], Any, bool]] = []

    def run(
        self, paths: Sequence[Path], *, policy: Any, prune: bool, on_total: Any, on_result: Any
    ) -> IngestSummary:
        self.runs.append((list(paths), policy, prune))
        files = sorted(paths[0].glob("*.md"))
        on_total(len(files))
        results = [FileResult(source_uri=f.as_uri(), outcome=IngestOutcome.ADDED) for f in files]
        for result in results:
            on_result(result)
        return IngestSummary(added=len(results), files=tuple(results))


def test_document_keys() -> None:
    assert key_by_stem("file:///data/corpus/12345.md") == "12345"
    assert key_by_stem("file:///data/corpus/a%20b.md") == "a b"
    key = key_by_relative_path(Path("/data/handbook"))
    assert key("file:///data/handbook/hr/leave.md") == "hr/leave.md"
    assert key("file:///elsewhere/x.md") == "/elsewhere/x.md"


def test_a_document_ranks_by_its_best_chunk() -> None:
    hits = [
        hit("file:///c/2.md"),
        hit("file:///c/1.md"),
        hit("file:///c/2.md", 1),
        hit("file:///c/3.md"),
    ]
    run = document_run(hits)
    assert list(run) == ["2", "1", "3"]
    assert run["2"] > run["1"] > run["3"]


def test_qrels_come_from_answerable_examples_with_gold_documents() -> None:
    examples = [
        EvalExample(id="1", question="Q1?", gold_documents=("a", "b")),
        EvalExample(id="2", question="Q2?"),
        EvalExample(id="3", question="Q3?", gold_documents=("a",), answerable=False),
    ]
    assert qrels_of(examples) == {"1": {"a": 1, "b": 1}}


def test_write_corpus_rewrites_only_what_changed(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    docs = [CorpusDocument("1", "One", "First."), CorpusDocument("2", "Two", "Second.")]
    assert write_corpus(docs, folder) == 2
    assert (folder / "1.md").read_text() == "# One\n\nFirst.\n"
    (folder / "stale.md").write_text("old")
    assert write_corpus([docs[0], CorpusDocument("2", "Two", "Changed.")], folder) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["1.md", "2.md"]
    with pytest.raises(EvalError, match="cannot be a file name"):
        write_corpus([CorpusDocument("a/b", "", "x")], folder)


def test_evaluate_mode_searches_as_each_principal_and_scores() -> None:
    examples = [
        EvalExample(id="1", question="first", gold_documents=("a",)),
        EvalExample(
            id="2",
            question="second",
            gold_documents=("b",),
            principal=PrincipalSpec(user="hana", groups=("hr",)),
        ),
        EvalExample(id="3", question="skipped", answerable=False),
    ]
    searcher = FakeSearcher(
        {
            "first": ["file:///c/a.md", "file:///c/x.md"],
            "second": ["file:///c/x.md", "file:///c/y.md", "file:///c/b.md"],
        }
    )
    result = evaluate_mode(cast(Any, searcher), examples, "sparse", k=50, tenant="acme")
    assert [c[0] for c in searcher.calls] == ["first", "second"]
    assert searcher.calls[1][1] == Principal(user_id="hana", groups=("hr",), tenant="acme")
    assert {c[2] for c in searcher.calls} == {50} and {c[3] for c in searcher.calls} == {
        SearchMode.SPARSE
    }
    assert result.per_query["mrr@10"] == {"1": 1.0, "2": pytest.approx(1 / 3)}
    assert result.metrics["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert result.top_documents["2"] == ["x", "y", "b"]
    with pytest.raises(EvalError, match="no example has gold documents"):
        evaluate_mode(cast(Any, searcher), examples[2:], "dense")


def test_evaluate_retrieval_indexes_then_scores_each_mode(tmp_path: Path) -> None:
    settings = scratch_settings(Settings.load(), tmp_path / "scratch")
    docs = [CorpusDocument("a", "A", "Alpha."), CorpusDocument("b", "B", "Beta.")]
    examples = [EvalExample(id="1", question="first", gold_documents=("a",))]
    pipeline = FakePipeline()
    searcher = FakeSearcher({"first": ["file:///c/b.md", "file:///c/a.md"]})
    report = evaluate_retrieval(
        dataset="tiny",
        corpus=docs,
        examples=examples,
        settings=settings,
        ingest=composition.corpus_ingest(cast(Any, pipeline)),
        searcher=cast(Any, searcher),
        modes=("dense", "hybrid"),
    )
    [(paths, policy, prune)] = pipeline.runs
    assert paths == [settings.data_dir / "corpus"] and prune
    assert policy.acl_for(Path("a.md")) == Acl(groups=("public",))
    assert report.index["documents"] == 2 and report.index["chunks"] == 3
    assert report.index["ingest"]["added"] == 2
    assert list(report.modes) == ["dense", "hybrid"]
    assert report.modes["dense"].metrics["mrr@10"] == 0.5
    data = report.to_json()
    assert data["modes"]["hybrid"]["per_query"]["ndcg@10"] == {"1": pytest.approx(1 / 1.5849625)}
    assert data["modes"]["dense"]["bootstrap_95"]["mrr@10"] == (0.5, 0.5)
    assert data["settings"]["fusion"] == settings.search.fusion
    assert markdown_table(report).splitlines()[0].startswith("| mode | nDCG@10 | recall@10 |")
    with pytest.raises(EvalError, match="unknown search mode 'bm25'"):
        evaluate_retrieval(
            dataset="tiny",
            corpus=docs,
            examples=examples,
            settings=settings,
            ingest=composition.corpus_ingest(cast(Any, pipeline)),
            searcher=cast(Any, searcher),
            modes=("bm25",),
        )


def test_a_failed_corpus_file_stops_the_evaluation(tmp_path: Path) -> None:
    class FailingPipeline(FakePipeline):
        def run(self, paths: Sequence[Path], **kwargs: Any) -> IngestSummary:
            failed = FileResult(
                source_uri="file:///c/a.md", outcome=IngestOutcome.FAILED, error="bad"
            )
            return IngestSummary(failed=1, files=(failed,))

    with pytest.raises(
        EvalError, match=r"1 corpus files failed to ingest, e\.g\. file:///c/a\.md: bad"
    ):
        evaluate_retrieval(
            dataset="tiny",
            corpus=[CorpusDocument("a", "A", "x")],
            examples=[EvalExample(id="1", question="q", gold_documents=("a",))],
            settings=scratch_settings(Settings.load(), tmp_path),
            ingest=composition.corpus_ingest(cast(Any, FailingPipeline())),
            searcher=cast(Any, FakeSearcher({})),
        )


def test_scratch_settings_never_touch_the_configured_index(tmp_path: Path) -> None:
    configured = Settings.load(
        data_dir=tmp_path / "real",
        index={
            "backend": "qdrant",
            "url": "http://qdrant:6333",
            "path": str(tmp_path / "ix"),
            "bm25_avg_len": 100,
        },
        registry={"url": "postgresql+psycopg://u@db/citewise"},
        search={"fusion": "rrf", "reranker": "cross-encoder"},
    )
    scratch = scratch_settings(configured, tmp_path / "eval")
    assert scratch.data_dir == tmp_path / "eval"
    assert (
        scratch.index.backend == "qdrant-edge" and scratch.index_path == tmp_path / "eval" / "index"
    )
    assert scratch.registry_url == f"sqlite:///{tmp_path / 'eval' / 'registry.sqlite3'}"
    assert scratch.index.bm25_avg_len == 100 and scratch.search.fusion == "rrf"
    assert scratch.search.reranker_path == tmp_path / "real" / "models" / "reranker"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--modes", "dense,bm25"], "unknown mode 'bm25'"),
        (["--dataset", "msmarco"], "unknown dataset 'msmarco'"),
        ([], "SciFact data not found at"),
    ],
)
def test_the_cli_refuses_bad_requests_before_any_work(
    tmp_path: Path, args: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app

    env = {"CITEWISE_SHARED_DATA": str(tmp_path / "nowhere")}
    command = ["eval", "retrieval", "--data-dir", str(tmp_path / "eval"), *args]
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "eval").exists()


def test_a_folder_corpus_is_ingested_as_it_is_and_keyed_by_relative_path(tmp_path: Path) -> None:
    folder = tmp_path / "handbook"
    (folder / "hr").mkdir(parents=True)
    (folder / "hr" / "leave.md").write_text("# Leave\n\n25 days.\n")
    examples = [EvalExample(id="1", question="leave?", gold_documents=("hr/leave.md",))]
    searcher = FakeSearcher({"leave?": [(folder / "hr" / "leave.md").as_uri()]})
    pipeline = FakePipeline()
    report = evaluate_retrieval(
        dataset="handbook",
        corpus=folder,
        examples=examples,
        settings=scratch_settings(Settings.load(), tmp_path / "scratch"),
        ingest=composition.corpus_ingest(cast(Any, pipeline)),
        searcher=cast(Any, searcher),
        modes=("dense",),
    )
    assert pipeline.runs[0][0] == [folder]
    assert not (tmp_path / "scratch" / "corpus").exists()
    assert report.modes["dense"].metrics["ndcg@10"] == 1.0
    assert report.modes["dense"].top_documents == {"1": ["hr/leave.md"]}
