"""Retrieval evaluation: index a corpus through the real pipeline, search every question in
each mode, rank documents by their best chunk, and score the ranking against the gold lists.

The pieces are built by the composition root (``api``) and handed in: a ``CorpusIngest``
(the ingest pipeline over an open store, ``composition.corpus_ingest``) and a ``Searcher``
over its index; evaluation never imports ``ingest``. Evaluation runs in a data directory of
its own (``scratch_settings``), never in the user's index, and a rerun re-ingests nothing
(the pipeline skips unchanged files), so a second evaluation costs only the searches.

Chunks map to documents through their source file: ``key_by_stem`` (``<doc_id>.md`` ->
``doc_id``, for corpora written by ``write_corpus``) or ``key_by_relative_path`` (a folder
corpus whose gold lists name files relative to its root). A document ranks by its first
(best) chunk; later chunks of it are ignored, so ``k`` chunks reach at most ``k`` documents.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from core.errors import CitewiseError
from core.models import FileResult, IngestOutcome, IngestSummary
from core.settings import Settings
from evals.dataset import PUBLIC_GROUP, CorpusDocument, EvalExample
from evals.retrieval_metrics import (
    DEFAULT_METRICS,
    bootstrap_interval,
    mean_metrics,
    per_query_metrics,
    rank_scores,
)
from retrieval.query import ScoredChunk, SearchMode
from retrieval.search import Searcher

DocKey = Callable[[str], str]
"""A chunk's source URI -> the document key that gold lists use."""

MODES = ("dense", "sparse", "hybrid")
TOP_K = 100
"""Chunks requested per query: enough for recall@100 over documents (most have 1-3 chunks)."""


class EvalError(CitewiseError):
    """An evaluation could not run as asked (the corpus failed to ingest, nothing to score)."""


class Progress(Protocol):
    """Where long steps report: one task at a time, advanced step by step."""

    def start(self, description: str, total: int | None) -> None:
        """A new task begins (``total`` steps, None when unknown yet)."""

    def advance(self, steps: int = 1) -> None:
        """Steps of the current task are done."""


class CorpusIngest(Protocol):
    """Brings an index up to date with a folder: every file in it readable by ``groups``,
    documents whose file is gone pruned. ``on_total`` hears how many files there are,
    ``on_result`` each file's outcome."""

    def __call__(
        self,
        folder: Path,
        groups: tuple[str, ...],
        *,
        on_total: Callable[[int], None],
        on_result: Callable[[FileResult], None],
    ) -> IngestSummary:
        """Ingest ``folder``; the summary of what changed."""
        ...


class NullProgress:
    """Reports nowhere."""

    def start(self, description: str, total: int | None) -> None:
        """Nothing."""

    def advance(self, steps: int = 1) -> None:
        """Nothing."""


# -- corpus and index -------------------------------------------------------------------------


def scratch_settings(settings: Settings, data_dir: Path) -> Settings:
    """``settings`` moved into ``data_dir``: an embedded qdrant-edge index and SQLite registry
    there, whatever the configuration says, so an evaluation never writes into the user's
    index or server. Everything that shapes chunks, vectors and ranking is kept."""
    search = settings.search
    if search.reranker != "none" and search.reranker_path is None:
        # The trained reranker lives under the configured data dir, not the scratch one.
        search = search.model_copy(
            update={"reranker_path": settings.data_dir / "models" / "reranker"}
        )
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "index": settings.index.model_copy(update={"backend": "qdrant-edge", "path": None}),
            "registry": settings.registry.model_copy(update={"url": None}),
            "search": search,
        }
    )


def write_corpus(documents: Iterable[CorpusDocument], folder: Path) -> int:
    """Write ``<key>.md`` per document (only files whose content changed, so the pipeline's
    change detection sees the rest as unchanged) and remove other ``.md`` files. Returns how
    many files were (re)written."""
    folder.mkdir(parents=True, exist_ok=True)
    keys: set[str] = set()
    written = 0
    for document in documents:
        if "/" in document.key or document.key.startswith("."):
            raise EvalError(f"document key {document.key!r} cannot be a file name")
        keys.add(document.key)
        path = folder / f"{document.key}.md"
        text = document.markdown()
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    for stale in folder.glob("*.md"):
        if stale.stem not in keys:
            stale.unlink()
    return written


def ingest_corpus(
    ingest: CorpusIngest,
    folder: Path,
    *,
    groups: tuple[str, ...] = (PUBLIC_GROUP,),
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest ``folder`` (pruning documents whose file is gone), every document readable by
    ``groups``. Raises ``EvalError`` when any file fails: a missing document would quietly
    lower every score."""
    sink = progress or NullProgress()

    def on_result(_: FileResult) -> None:
        sink.advance()

    summary = ingest(
        folder,
        groups,
        on_total=lambda total: sink.start("indexing corpus", total),
        on_result=on_result,
    )
    failed = [f for f in summary.files if f.outcome is IngestOutcome.FAILED]
    if failed:
        first = failed[0]
        raise EvalError(
            f"{len(failed)} corpus files failed to ingest, e.g. {first.source_uri}: {first.error}"
        )
    return summary


# -- runs -------------------------------------------------------------------------------------


def key_by_stem(source_uri: str) -> str:
    """The document key of a file written by ``write_corpus``: its name without ``.md``."""
    name = source_uri.rstrip("/").rsplit("/", 1)[-1]
    return unquote(name.rsplit(".", 1)[0])


def key_by_relative_path(root: Path) -> DocKey:
    """Document keys as paths relative to ``root`` (``hr/leave.md``)."""
    base = PurePosixPath(root.resolve().as_posix())

    def key(source_uri: str) -> str:
        path = PurePosixPath(unquote(urlparse(source_uri).path))
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return path.as_posix()  # outside the corpus root: keep it whole, never matches gold

    return key


def document_run(hits: Iterable[ScoredChunk], doc_key: DocKey = key_by_stem) -> dict[str, float]:
    """Chunks (best first) to documents ranked by their best chunk. Scores are rank-based
    (strictly decreasing), so the metrics keep exactly the engine's order."""
    return rank_scores(doc_key(hit.chunk.source_uri) for hit in hits)


def qrels_of(examples: Iterable[EvalExample]) -> dict[str, dict[str, int]]:
    """Binary qrels from the examples that have gold documents (unanswerable ones and those
    without gold documents are not retrieval questions)."""
    return {
        example.id: dict.fromkeys(example.gold_documents, 1)
        for example in examples
        if example.answerable and example.gold_documents
    }


@dataclass
class ModeResult:
    """One search mode's scores: means, per-query values and the ranked documents."""

    mode: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    ms_per_query: float
    top_documents: dict[str, list[str]] = field(default_factory=dict)

    def interval(self, metric: str, seed: int = 13) -> tuple[float, float]:
        """A bootstrap 95% interval of a metric's mean over the queries."""
        return bootstrap_interval(list(self.per_query[metric].values()), seed=seed)


def evaluate_mode(
    searcher: Searcher,
    examples: Sequence[EvalExample],
    mode: str,
    *,
    k: int = TOP_K,
    doc_key: DocKey = key_by_stem,
    tenant: str | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    progress: Progress | None = None,
    keep_top: int = 10,
) -> ModeResult:
    """Search every example's question as its principal in one mode and score the run."""
    qrels = qrels_of(examples)
    if not qrels:
        raise EvalError("no example has gold documents to score retrieval against")
    sink = progress or NullProgress()
    sink.start(f"searching ({mode})", len(qrels))
    search_mode = SearchMode(mode)
    run: dict[str, dict[str, float]] = {}
    elapsed = 0.0
    for example in examples:
        if example.id not in qrels:
            continue
        principal = example.principal.to_principal(tenant)
        started = time.perf_counter()
        hits = searcher.search(example.question, principal, k=k, mode=search_mode)
        elapsed += time.perf_counter() - started
        run[example.id] = document_run(hits, doc_key)
        sink.advance()
    per_query = per_query_metrics(qrels, run, metrics)
    return ModeResult(
        mode=mode,
        metrics=mean_metrics(per_query),
        per_query=per_query,
        ms_per_query=1000 * elapsed / len(qrels),
        top_documents={qid: list(docs)[:keep_top] for qid, docs in run.items()},
    )


# -- the whole evaluation ---------------------------------------------------------------------


@dataclass
class RetrievalReport:
    """Everything one evaluation measured, as written to JSON."""

    dataset: str
    corpus_documents: int
    queries: int
    k: int
    index: dict[str, Any]
    settings: dict[str, Any]
    modes: dict[str, ModeResult]
    date: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    command: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: means with bootstrap intervals, per-query values, top documents."""
        return {
            "dataset": self.dataset,
            "date": self.date,
            "command": self.command,
            "corpus_documents": self.corpus_documents,
            "queries": self.queries,
            "k": self.k,
            "index": self.index,
            "settings": self.settings,
            "seconds": round(self.seconds, 1),
            "modes": {
                mode: {
                    "metrics": result.metrics,
                    "bootstrap_95": {m: result.interval(m) for m in result.metrics},
                    "ms_per_query": round(result.ms_per_query, 2),
                    "per_query": result.per_query,
                    "top_documents": result.top_documents,
                }
                for mode, result in self.modes.items()
            },
        }


def ranking_settings(settings: Settings) -> dict[str, Any]:
    """The settings a retrieval score depends on, recorded beside it."""
    return {
        "embedding_backend": settings.embedding.backend,
        "embedding_model": str(settings.embedding.model_path or "all-MiniLM-L6-v2 (shipped)"),
        "bm25_avg_len": settings.index.bm25_avg_len,
        "fusion": settings.search.fusion,
        "rrf_k": settings.search.rrf_k,
        "weights": [settings.search.dense_weight, settings.search.sparse_weight],
        "prefetch_limit": settings.search.prefetch_limit,
        "hnsw_ef": settings.search.hnsw_ef,
        "reranker": settings.search.reranker,
    }


def evaluate_retrieval(
    *,
    dataset: str,
    corpus: Sequence[CorpusDocument] | Path,
    examples: Sequence[EvalExample],
    settings: Settings,
    ingest: CorpusIngest,
    searcher: Searcher,
    modes: Sequence[str] = MODES,
    k: int = TOP_K,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Bring the index up to date with the corpus through ``ingest``, then evaluate each
    mode with ``searcher`` (over the same index).

    ``corpus`` is either documents, written as ``<data_dir>/corpus/<key>.md`` and keyed by
    ``key_by_stem``, or an existing folder, ingested as it is and keyed by
    ``key_by_relative_path`` (gold lists name files relative to it)."""
    started = time.perf_counter()
    for mode in modes:
        if mode not in MODES:
            raise EvalError(f"unknown search mode {mode!r} (choose from {', '.join(MODES)})")
    if isinstance(corpus, Path):
        folder, written, doc_key = corpus, 0, key_by_relative_path(corpus)
    else:
        folder, doc_key = settings.data_dir / "corpus", key_by_stem
        written = write_corpus(corpus, folder)
    summary = ingest_corpus(ingest, folder, progress=progress)
    index = {
        "data_dir": str(settings.data_dir),
        "corpus": str(folder),
        "documents": len(searcher.index.document_ids()),
        "chunks": searcher.index.count(),
        "files_written": written,
        "ingest": summary.model_dump(mode="json", exclude={"files"}),
    }
    results = {
        mode: evaluate_mode(
            searcher,
            examples,
            mode,
            k=k,
            doc_key=doc_key,
            tenant=settings.tenant,
            progress=progress,
        )
        for mode in modes
    }
    return RetrievalReport(
        dataset=dataset,
        corpus_documents=summary.added + summary.updated + summary.unchanged,
        queries=len(qrels_of(examples)),
        k=k,
        index=index,
        settings=ranking_settings(settings),
        modes=results,
        seconds=time.perf_counter() - started,
    )


def markdown_table(report: RetrievalReport) -> str:
    """The per-mode means as a markdown table (nDCG@10 with its bootstrap 95% interval)."""
    names = list(next(iter(report.modes.values())).metrics) if report.modes else []
    head = "| mode | " + " | ".join(_label(n) for n in names) + " | nDCG@10 95% CI | ms/query |"
    rule = "|---|" + "--:|" * (len(names) + 2)
    lines = [head, rule]
    for mode, result in report.modes.items():
        cells = " | ".join(f"{result.metrics[n]:.4f}" for n in names)
        ci = ""
        if "ndcg@10" in result.per_query:
            low, high = result.interval("ndcg@10")
            ci = f"[{low:.3f}, {high:.3f}]"
        lines.append(f"| {mode} | {cells} | {ci} | {result.ms_per_query:.1f} |")
    return "\n".join(lines)


def _label(metric: str) -> str:
    return metric.replace("ndcg", "nDCG").replace("mrr", "MRR")
