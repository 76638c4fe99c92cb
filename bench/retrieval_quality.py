"""How well does Citewise's search rank SciFact? Dense, BM25 and hybrid, with a fusion sweep.

The index is built through Citewise's real ingestion: every SciFact abstract is written to
``bench/out/scifact-corpus/<doc_id>.md`` (``# Title``, a blank line, the abstract) and ingested
with ``IngestPipeline`` (``api.composition.open_store`` + ``build_pipeline``, as
``citewise ingest`` does): unstructured parses and chunks it to the embedding window, the
configured embedder (default onnx-int8 all-MiniLM-L6-v2) and Qdrant's BM25 encoder vectorise
it, qdrant-edge indexes it. One data directory per BM25 ``bm25_avg_len`` value lives under
``bench/out/retrieval-quality/``. Only the first value parses and embeds (~27 min for the
corpus on 2 busy cores); the others run the same pipeline with the first index's passages and
dense vectors replayed (neither depends on ``bm25_avg_len``; ``--full-reingest`` redoes them).
A rerun re-ingests nothing: the pipeline skips unchanged files.

Each row of the sweep gets a searcher from ``api.composition.build_searcher`` (its search
settings, reranker off) and runs every claim through ``Searcher.search`` with ``k=100`` chunks;
the chunks are mapped back to SciFact documents through their source file name and a document
ranks by its best chunk (its first appearance in the chunk list). Metrics come from
``pytrec_eval`` as in ``bench/embedding_quality.py``: nDCG@10, recall@10, recall@100 (of the
documents the 100 chunks reach) and MRR@10, means over the queries.

Tuning: SciFact's train claims (``claims_train.csv`` in ``scifact.zip``; their
``cited_doc_ids`` are BEIR's train qrels, 809 claims) pick the settings; the 300 test claims
(``qrels-test.tsv``) report them. The sweep covers RRF k, RRF (dense, sparse) weights, DBSF,
the per-branch prefetch limit and ``bm25_avg_len``. Dense query vectors are computed once per
query and reused across the sweep, so a sweep row costs only the index queries (~15 s).

Usage::

    .venv/bin/python bench/retrieval_quality.py                 # full run (~5k abstracts)
    .venv/bin/python bench/retrieval_quality.py --no-sweep      # modes and defaults only
    .venv/bin/python bench/retrieval_quality.py --limit-docs 500 --limit-queries 50 --no-write
    .venv/bin/python bench/retrieval_quality.py --report-only   # re-render from the JSON
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from report import (
    OUT_DIR,
    REPO,
    RESULTS_MD,
    add_subsample_options,
    check_subsample,
    command_line,
    markdown_table,
    paired_bootstrap,
    provenance,
    provenance_lines,
    repo_relative,
    write_json,
    write_section,
)

# SciFact reading, the document run and the metrics live in the evaluation harness.
from evals.dataset import CorpusDocument, DatasetError
from evals.retrieval_eval import document_run as evals_document_run
from evals.retrieval_eval import key_by_stem
from evals.retrieval_eval import write_corpus as write_documents
from evals.retrieval_metrics import per_query_metrics
from evals.scifact import check_scifact_dir, shared_data_root
from evals.scifact import load_scifact as read_scifact

OUT_JSON = OUT_DIR / "retrieval_quality.json"
SECTION_TITLE = "## Retrieval quality on SciFact (bench/retrieval_quality.py)"

TOP_K = 100
DEFAULT_PREFETCH = 100
"""SearchSettings.prefetch_limit today; the fusion grid runs at it, other limits after."""
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
TARGET_NDCG = 0.68
AIM_NDCG = 0.70
TIE = 0.002
"""Tuning-split nDCG@10 differences below this count as ties when choosing the defaults."""

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


def default_data_dir() -> Path:
    """``$CITEWISE_SHARED_DATA/scifact``, else ``../shared/data/scifact`` beside the repo."""
    return shared_data_root() / "scifact"


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SciFact:
    """The corpus, the query texts and the qrels of both splits."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, Qrels]
    source: str


def load_scifact(data_dir: Path) -> SciFact | None:
    """SciFact from ``data_dir`` (read by ``evals.scifact``), or None (with a message) when it
    is not there."""
    try:
        check_scifact_dir(data_dir)
    except DatasetError as e:
        print(f"SKIP: {e.message}, or pass --data DIR")
        return None
    try:
        data = read_scifact(data_dir)
    except DatasetError as e:
        raise SystemExit(e.message) from e
    return SciFact(
        corpus={key: (doc.title, doc.text) for key, doc in data.corpus.items()},
        queries=data.queries,
        qrels=data.qrels,
        source=data.source,
    )


def subsample(data: SciFact, limit_docs: int | None, limit_queries: int | None) -> SciFact:
    """A smaller problem for quick runs: ``limit_queries`` random queries per split, their gold
    documents plus random others up to ``limit_docs``."""
    rng = random.Random(13)
    qrels: dict[str, Qrels] = {}
    for split, judged in data.qrels.items():
        ids = sorted(judged, key=int)
        if limit_queries is not None and limit_queries < len(ids):
            ids = sorted(rng.sample(ids, limit_queries), key=int)
        qrels[split] = {q: judged[q] for q in ids}
    corpus = data.corpus
    if limit_docs is not None and limit_docs < len(corpus):
        keep = {d for judged in qrels.values() for docs in judged.values() for d in docs}
        others = sorted(set(corpus) - keep, key=int)
        keep |= set(rng.sample(others, max(0, min(len(others), limit_docs - len(keep)))))
        corpus = {d: corpus[d] for d in sorted(keep, key=int)}
    return replace(data, corpus=corpus, qrels=qrels)


def markdown_document(title: str, abstract: str) -> str:
    """One SciFact document as the markdown file that is ingested."""
    return CorpusDocument("", title, abstract).markdown()


def write_corpus(corpus: dict[str, tuple[str, str]], folder: Path) -> int:
    """Write ``<doc_id>.md`` per document (only files whose content changed); remove others.
    Returns how many files were (re)written."""
    documents = (CorpusDocument(doc_id, title, text) for doc_id, (title, text) in corpus.items())
    return write_documents(documents, folder)


# -- search -----------------------------------------------------------------------------------


class CachedQueries:
    """The embedder handed to every searcher of the sweep: each query text is embedded once per
    run (documents go straight through). BM25 query encoding takes microseconds and is left to
    the searcher's own encoder; ``encode_query`` here only serves the timing line."""

    def __init__(self, embedder: Any, sparse: Any, dense: dict[str, Any] | None = None) -> None:
        self._embedder = embedder
        self._sparse = sparse
        self._dense: dict[str, Any] = {} if dense is None else dense
        self._lexical: dict[str, Any] = {}

    @property
    def dimension(self) -> int:
        """Length of the dense vectors."""
        return int(self._embedder.dimension)

    def warm_up(self) -> None:
        """Load the model."""
        self._embedder.warm_up()

    def embed_documents(self, texts: Sequence[str]) -> Any:
        """Not cached."""
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        """The dense query vector, computed once per text."""
        if text not in self._dense:
            self._dense[text] = self._embedder.embed_query(text)
        return self._dense[text]

    def encode_document(self, text: str) -> Any:
        """Not cached."""
        return self._sparse.encode_document(text)

    def encode_query(self, text: str) -> Any:
        """The BM25 query vector, computed once per text."""
        if text not in self._lexical:
            self._lexical[text] = self._sparse.encode_query(text)
        return self._lexical[text]


@dataclass(frozen=True)
class Config:
    """One row of the sweep: a search mode and its ranking options."""

    mode: str
    fusion: str = "rrf"
    rrf_k: int = 60
    weights: tuple[float, float] = (1.0, 1.0)
    prefetch: int = 100
    exact: bool = False

    @property
    def label(self) -> str:
        """A short human-readable name."""
        if self.mode != "hybrid":
            text = self.mode
        elif self.fusion == "dbsf":
            text = f"hybrid dbsf p{self.prefetch}"
        else:
            w = "" if self.weights == (1.0, 1.0) else f" w{self.weights[0]:g}/{self.weights[1]:g}"
            text = f"hybrid rrf k{self.rrf_k}{w} p{self.prefetch}"
        return text + (" exact" if self.exact else "")

    @property
    def k(self) -> int:
        """Chunks requested: ``TOP_K``, or the prefetch limit when that is smaller (Searcher
        raises the prefetch limit to ``k``, so a smaller prefetch needs a smaller ``k``)."""
        return min(TOP_K, self.prefetch) if self.mode == "hybrid" else TOP_K


doc_id_of = key_by_stem
"""The SciFact document id of a chunk: its file is ``<doc_id>.md``."""

document_run = evals_document_run
"""Chunks (best first) to documents ranked by their best chunk (rank-based scores, so
trec_eval keeps exactly the engine's order)."""


@dataclass
class Measured:
    """A config's per-split runs and metrics."""

    metrics: dict[str, dict[str, float]]
    per_query_ndcg: dict[str, dict[str, float]]
    ms_per_query: float


def measure(
    searcher_for: Any, config: Config, queries: dict[str, str], qrels: dict[str, Qrels]
) -> Measured:
    """Run every query of every split with one config and score it."""
    from core.models import Principal
    from retrieval.query import SearchMode

    principal = Principal(user_id="bench")
    searcher = searcher_for(config)
    metrics: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, float]] = {}
    elapsed, count = 0.0, 0
    for split, judged in qrels.items():
        run: Run = {}
        for qid in judged:
            started = time.perf_counter()
            hits = searcher.search(
                queries[qid],
                principal,
                k=config.k,
                mode=SearchMode(config.mode),
                exact=config.exact,
            )
            elapsed += time.perf_counter() - started
            count += 1
            run[qid] = document_run(hits) or {"-": 0.0}
        scores = per_query_metrics(judged, run)
        metrics[split] = {m: float(np.mean(list(scores[m].values()))) for m in METRICS}
        per_query[split] = scores["ndcg@10"]
    return Measured(metrics, per_query, 1000 * elapsed / max(1, count))


# -- ingest -----------------------------------------------------------------------------------


class DenseCache:
    """An ``Embedder`` that remembers every document vector it computed, keyed by the text.

    The first index is ingested through it (vectors computed by the real embedder and
    recorded); indexes that differ only in ``bm25_avg_len`` are then ingested through it too and
    get the same vectors back without running the model again. Query embedding is not involved.
    """

    def __init__(self, inner: Any, path: Path) -> None:
        self._inner = inner
        self._path = path
        self._vectors: dict[str, np.ndarray] = {}
        self.computed = 0
        self.reused = 0
        texts_file, matrix_file = path.with_suffix(".json"), path.with_suffix(".npy")
        if texts_file.is_file() and matrix_file.is_file():
            texts = json.loads(texts_file.read_text())
            matrix = np.load(matrix_file)
            if len(texts) == len(matrix):
                self._vectors = dict(zip(texts, matrix, strict=True))

    @property
    def dimension(self) -> int:
        """Length of the dense vectors."""
        return int(self._inner.dimension)

    def warm_up(self) -> None:
        """Nothing: the model loads on the first text that is not cached."""

    def embed_query(self, text: str) -> Any:
        """Not cached here."""
        return self._inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Cached vectors; the rest computed in one call of the real embedder."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, self._inner.embed_documents(missing), strict=True):
                self._vectors[text] = np.asarray(vector, dtype=np.float32)
            self.computed += len(missing)
        self.reused += len(texts) - len(missing)
        return [self._vectors[t].tolist() for t in texts]

    def save(self) -> None:
        """Write the cache (only when it grew)."""
        if not self.computed:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        np.save(self._path.with_suffix(".npy"), np.stack([self._vectors[t] for t in texts]))
        self._path.with_suffix(".json").write_text(json.dumps(texts))
        self.computed = 0


class ReplayProcessor:
    """A ``DocumentParser`` that returns the passages another index already holds for the
    same file (parsing and chunking do not depend on ``bm25_avg_len``), and parses for real
    any file it does not know."""

    def __init__(self, documents: dict[str, Any], fallback: Callable[[], Any]) -> None:
        self._documents = documents
        self._fallback_factory = fallback
        self._fallback: Any = None

    def warm_up(self) -> None:
        """Nothing to load up front."""

    def process(self, path: Path) -> Any:
        """The stored passages of ``path``, else a real parse."""
        document = self._documents.get(path.name)
        if document is not None:
            return document
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback.process(path)


def processed_documents(chunks_by_doc: dict[str, list[Any]]) -> dict[str, Any]:
    """``file name -> ParsedDocument`` rebuilt from an index's chunks (every field the
    writer stores; only the source token count, a statistic, is lost)."""
    from ingest.document_parser import ParsedDocument, Passage

    documents: dict[str, Any] = {}
    for chunks in chunks_by_doc.values():
        first = chunks[0]
        documents[first.source_uri.rstrip("/").rsplit("/", 1)[-1]] = ParsedDocument(
            title=first.title,
            file_type=first.file_type or "md",
            passages=tuple(
                Passage(
                    text=c.text,
                    section_path=c.section_path,
                    pages=c.pages,
                    element_types=c.element_types,
                    table_html=c.table_html,
                    token_count=c.token_count,
                )
                for c in chunks
            ),
        )
    return documents


def ingest(
    settings: Any, store: Any, corpus_dir: Path, replay: dict[str, Any] | None
) -> dict[str, Any]:
    """Run ``IngestPipeline`` over the corpus folder: the composition root's pipeline, or with
    ``replay`` the same pipeline whose parser returns those stored passages."""
    from functools import partial

    from api import composition
    from core.models import IngestOutcome
    from ingest.parser_pool import ParserPool
    from ingest.pipeline import IngestPipeline

    if replay is None:
        pipeline = composition.build_pipeline(settings, store)
    else:
        factory = partial(ReplayProcessor, replay, partial(composition.build_parser, settings))
        pipeline = IngestPipeline(
            registry=store.registry,
            writer=store.writer,
            pool=ParserPool(factory, workers=0),
            pipeline_id=composition.pipeline_id(settings),
            tenant=settings.tenant,
            embed_group=settings.ingest.embed_group,
        )
    total, done = [0], [0]
    started = time.perf_counter()

    def on_result(file_result: Any) -> None:
        done[0] += 1
        if file_result.outcome is IngestOutcome.FAILED:
            print(f"  failed {file_result.source_uri}: {file_result.error}", flush=True)
        elif file_result.outcome is not IngestOutcome.UNCHANGED and done[0] % 250 == 0:
            print(
                f"  ingested {done[0]}/{total[0]} files, {time.perf_counter() - started:.0f} s",
                flush=True,
            )

    summary = pipeline.run(
        [corpus_dir],
        policy=composition.acl_policy(settings, None),
        prune=True,
        on_total=lambda n: total.__setitem__(0, n),
        on_result=on_result,
    )
    print(
        f"  added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"failed {summary.failed}; {summary.chunks} chunks written in {summary.seconds:.1f} s",
        flush=True,
    )
    if summary.failed:
        raise SystemExit(f"{summary.failed} documents failed to ingest")
    return dict(summary.model_dump(mode="json", exclude={"files"}), replayed=replay is not None)


def all_chunks(index: Any) -> dict[str, list[Any]]:
    """Every document's chunks, in order."""
    return {doc_id: index.get_chunks(doc_id) for doc_id in sorted(index.document_ids())}


def index_stats(chunks_by_doc: dict[str, list[Any]], avg_len: float) -> dict[str, Any]:
    """Documents, chunks and chunk lengths in the index: model tokens (as the chunker counted
    them) and BM25 terms (after stopwords), the length that ``bm25_avg_len`` normalises."""
    from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder

    encoder = QdrantBm25Encoder(avg_len=avg_len)
    chunks = [c for doc in chunks_by_doc.values() for c in doc]
    tokens = [c.token_count for c in chunks]
    terms = [bm25_length(encoder.encode_document(c.embedding_text()), avg_len) for c in chunks]
    return {
        "documents": len(chunks_by_doc),
        "chunks": len(chunks),
        "chunks_per_document": len(chunks) / max(1, len(chunks_by_doc)),
        "mean_model_tokens": float(np.mean(tokens)) if tokens else 0.0,
        "mean_bm25_terms": float(np.mean(terms)) if terms else 0.0,
        "median_bm25_terms": float(np.median(terms)) if terms else 0.0,
    }


def bm25_length(vector: Any, avg_len: float, k: float = 1.2, b: float = 0.75) -> float:
    """The document length (BM25 terms) behind a BM25 document vector: its smallest weight
    is a term seen once, w = (k + 1) / (1 + k (1 - b + b L / avg_len)); solve for L."""
    if not vector.values:
        return 0.0
    weight = min(vector.values)
    return ((k + 1) / weight - 1) / k * avg_len / b - (1 - b) * avg_len / b


# -- one index ----------------------------------------------------------------------------------


def stage_one(args: argparse.Namespace) -> list[Config]:
    """Today's defaults, then the fusion grid at the default prefetch limit (HNSW)."""
    configs = [Config("hybrid")]
    if not args.no_sweep:
        for rrf_k in args.rrf_k:
            for weights in args.weights:
                configs.append(Config("hybrid", "rrf", rrf_k, weights, DEFAULT_PREFETCH))
        configs.append(Config("hybrid", "dbsf", prefetch=DEFAULT_PREFETCH))
    return list(dict.fromkeys(configs))


def stage_two(args: argparse.Namespace, ranked: list[Config]) -> list[Config]:
    """The other prefetch limits, for today's defaults, DBSF and the best ``--top`` RRF rows of
    stage one (all of them with ``--full-grid``)."""
    if args.no_sweep:
        return []
    rrf = [c for c in ranked if c.fusion == "rrf"]
    keep = rrf if args.full_grid else rrf[: args.top]
    keep = list(dict.fromkeys([Config("hybrid"), *keep, Config("hybrid", "dbsf")]))
    return [
        replace(config, prefetch=prefetch)
        for config in keep
        for prefetch in args.prefetch
        if prefetch != DEFAULT_PREFETCH
    ]


def evaluate_index(
    data: SciFact,
    settings: Any,
    store: Any,
    cached: CachedQueries,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Measure every config on one open index."""
    from api import composition
    from retrieval.search import Searcher

    search = settings.search
    tune = "train" if "train" in data.qrels else "test"

    def searcher_for(config: Config) -> Searcher:
        # The composition root's searcher, with this row's ranking settings and no reranker;
        # the dense query vectors come from the cache.
        ranking = search.model_copy(
            update={
                "mode": config.mode,
                "fusion": config.fusion,
                "rrf_k": config.rrf_k,
                "dense_weight": config.weights[0],
                "sparse_weight": config.weights[1],
                "prefetch_limit": config.prefetch,
                "k": config.k,
                "reranker": "none",
            }
        )
        row_settings = settings.model_copy(update={"search": ranking})
        return composition.build_searcher(row_settings, store.index, embedder=cached)

    # Encode every query once up front, so the timed searches exclude the encoders.
    texts = [data.queries[q] for judged in data.qrels.values() for q in judged]
    cached.warm_up()
    started = time.perf_counter()
    for text in texts:
        cached.embed_query(text)
    dense_ms = 1000 * (time.perf_counter() - started) / len(texts)
    started = time.perf_counter()
    for text in texts:
        cached.encode_query(text)
    sparse_ms = 1000 * (time.perf_counter() - started) / len(texts)
    print(
        f"  query encoding: dense {dense_ms:.1f} ms, BM25 {sparse_ms:.2f} ms per query "
        "(dense from the cache after the first index)",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    done: set[Config] = set()

    def run_all(configs: Sequence[Config], stage: str) -> None:
        todo = [c for c in configs if c not in done]
        for number, config in enumerate(todo, 1):
            measured = measure(searcher_for, config, data.queries, data.qrels)
            done.add(config)
            rows.append(
                {
                    "label": config.label,
                    "stage": stage,
                    "config": asdict(config) | {"k": config.k},
                    "metrics": measured.metrics,
                    "ms_per_query": measured.ms_per_query,
                    "per_query_ndcg10": measured.per_query_ndcg,
                }
            )
            shown = "  ".join(
                f"{split} nDCG@10 {measured.metrics[split]['ndcg@10']:.4f}"
                for split in measured.metrics
            )
            print(
                f"  {stage} [{number}/{len(todo)}] {config.label:<30} {shown}  "
                f"({measured.ms_per_query:.1f} ms/query)",
                flush=True,
            )

    def ranked(stage: str) -> list[Config]:
        chosen = [r for r in rows if r["stage"] == stage]
        chosen.sort(key=lambda r: -r["metrics"][tune]["ndcg@10"])
        return [config_of(r) for r in chosen]

    run_all(
        [
            Config("dense"),
            Config("sparse"),
            Config("dense", exact=True),
            Config("sparse", exact=True),
            Config("hybrid", exact=True),
        ],
        "modes",
    )
    run_all(stage_one(args), "fusion")
    run_all(stage_two(args, ranked("fusion")), "prefetch")
    best = max(
        (r for r in rows if r["config"]["mode"] == "hybrid" and not r["config"]["exact"]),
        key=lambda r: r["metrics"][tune]["ndcg@10"],
    )
    run_all([replace(config_of(best), exact=True)], "exact")
    return rows


def config_of(row: dict[str, Any]) -> Config:
    """The Config of a result row."""
    c = row["config"]
    return Config(
        c["mode"], c["fusion"], c["rrf_k"], tuple(c["weights"]), c["prefetch"], c["exact"]
    )


# -- report -------------------------------------------------------------------------------------


def all_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every measured row, each tagged with its index's ``bm25_avg_len``."""
    return [
        row | {"bm25_avg_len": index["bm25_avg_len"]}
        for index in report["indexes"]
        for row in index["rows"]
    ]


def find_row(report: dict[str, Any], avg_len: float, label: str) -> dict[str, Any]:
    """The row with this label on this index."""
    for row in all_rows(report):
        if row["bm25_avg_len"] == avg_len and row["label"] == label:
            return row
    raise KeyError(f"{label} @ {avg_len}")


def changes(row: dict[str, Any], baseline_avg_len: float) -> int:
    """How many settings a row changes from today's defaults (RRF, k 60, weights 1/1,
    prefetch 100, the first ``bm25_avg_len``); a ``bm25_avg_len`` change counts twice, since it
    re-indexes every document."""
    c = row["config"]
    count = int(c["fusion"] != "rrf")
    if c["fusion"] == "rrf":
        count += int(c["rrf_k"] != 60) + int(tuple(c["weights"]) != (1.0, 1.0))
    count += int(c["prefetch"] != DEFAULT_PREFETCH)
    return count + 2 * int(row["bm25_avg_len"] != baseline_avg_len)


def choose(report: dict[str, Any]) -> dict[str, Any]:
    """Pick the defaults among the approximate (HNSW) hybrid rows: the best nDCG@10 on the
    tuning split, where rows within ``TIE`` of the best count as tied and the tie goes to the
    row that changes the fewest settings (then the higher score)."""
    split = report["tune_split"]
    baseline_avg = report["indexes"][0]["bm25_avg_len"]
    candidates = [
        r for r in all_rows(report) if r["config"]["mode"] == "hybrid" and not r["config"]["exact"]
    ]
    top = max(r["metrics"][split]["ndcg@10"] for r in candidates)
    tied = [r for r in candidates if r["metrics"][split]["ndcg@10"] >= top - TIE]
    return min(tied, key=lambda r: (changes(r, baseline_avg), -r["metrics"][split]["ndcg@10"]))


def paired_delta(better: dict[str, Any], worse: dict[str, Any], split: str) -> dict[str, Any]:
    """Mean per-query nDCG@10 difference on a split, with a paired bootstrap 95% interval."""
    a, b = better["per_query_ndcg10"][split], worse["per_query_ndcg10"][split]
    deltas = np.array([a[q] - b[q] for q in a])
    low, high = paired_bootstrap(deltas, 13)
    return {"mean": float(deltas.mean()), "bootstrap_95": [low, high], "queries": len(deltas)}


def analyse(report: dict[str, Any]) -> dict[str, Any]:
    """The chosen row, its exact twin, the comparisons and the verdict lines."""
    best = choose(report)
    avg_len = best["bm25_avg_len"]
    dense = find_row(report, avg_len, "dense")
    sparse = find_row(report, avg_len, "sparse")
    baseline_avg = report["indexes"][0]["bm25_avg_len"]
    baseline = find_row(report, baseline_avg, "hybrid rrf k60 p100")
    deltas = {split: paired_delta(best, baseline, split) for split in best["per_query_ndcg10"]}
    cfg = best["config"]
    exact_label = Config(
        "hybrid", cfg["fusion"], cfg["rrf_k"], tuple(cfg["weights"]), cfg["prefetch"], True
    ).label
    try:
        exact = find_row(report, avg_len, exact_label)
    except KeyError:
        exact = None
    test = best["metrics"]["test"]["ndcg@10"]
    d_test = dense["metrics"]["test"]["ndcg@10"]
    s_test = sparse["metrics"]["test"]["ndcg@10"]

    def verdict(ok: bool) -> str:
        return "**PASS**" if ok else "**FAIL**"

    checks = [
        f"hybrid ({best['label']}, bm25_avg_len {avg_len:g}) nDCG@10 {test:.4f} ≥ dense "
        f"{d_test:.4f}: {verdict(test >= d_test)}",
        f"hybrid nDCG@10 {test:.4f} ≥ sparse (same index) {s_test:.4f}: {verdict(test >= s_test)}",
        f"hybrid nDCG@10 {test:.4f} ≥ {TARGET_NDCG}: {verdict(test >= TARGET_NDCG)}",
        f"aim: hybrid nDCG@10 {test:.4f} ≥ {AIM_NDCG}: {verdict(test >= AIM_NDCG)}",
    ]
    if baseline is not best:
        b_test = baseline["metrics"]["test"]["ndcg@10"]
        b_dense = find_row(report, baseline_avg, "dense")["metrics"]["test"]["ndcg@10"]
        b_sparse = find_row(report, baseline_avg, "sparse")["metrics"]["test"]["ndcg@10"]
        ok = b_test >= max(b_dense, b_sparse, TARGET_NDCG)
        checks.append(
            f"today's defaults (RRF k=60, bm25_avg_len {baseline_avg:g}): nDCG@10 {b_test:.4f} "
            f"vs dense {b_dense:.4f}, sparse {b_sparse:.4f}, target {TARGET_NDCG}: {verdict(ok)}"
        )
    return {
        "chosen": best,
        "chosen_exact": exact,
        "baseline": baseline,
        "delta_vs_baseline": deltas,
        "checks": checks,
        "passed": test >= d_test and test >= s_test and test >= TARGET_NDCG,
    }


def table(report: dict[str, Any]) -> str:
    """Every row as a markdown table: test metrics, and the tuning split's nDCG@10."""
    tune = report["tune_split"]
    show_tune = tune != "test"
    header = ["bm25_avg_len", "search", "nDCG@10", "recall@10", "recall@100", "MRR@10"]
    if show_tune:
        header.append(f"{tune} nDCG@10")
    header.append("ms/query")
    chosen = report["analysis"]["chosen"]
    rows = []
    for row in all_rows(report):
        m = row["metrics"]["test"]
        label = row["label"]
        if row["label"] == chosen["label"] and row["bm25_avg_len"] == chosen["bm25_avg_len"]:
            label = f"**{label}** (chosen)"
        cells = [f"{row['bm25_avg_len']:g}", label, *(f"{m[name]:.4f}" for name in METRICS)]
        if show_tune:
            cells.append(f"{row['metrics'][tune]['ndcg@10']:.4f}")
        cells.append(f"{row['ms_per_query']:.1f}")
        rows.append(cells)
    return markdown_table(header, rows, text_columns=(1,))


def index_summary(report: dict[str, Any], avg_len: float, split: str) -> str:
    """One index's sparse and best hybrid nDCG@10 on a split."""
    sparse = find_row(report, avg_len, "sparse")["metrics"][split]["ndcg@10"]
    hybrid = max(
        r["metrics"][split]["ndcg@10"]
        for r in all_rows(report)
        if r["bm25_avg_len"] == avg_len
        and r["config"]["mode"] == "hybrid"
        and not r["config"]["exact"]
    )
    return f"{avg_len:g}: sparse {sparse:.4f}, best hybrid {hybrid:.4f}"


def defaults_lines(report: dict[str, Any]) -> list[str]:
    """The recommended settings and the evidence for them."""
    a = report["analysis"]
    split = report["tune_split"]
    chosen = a["chosen"]
    cfg = chosen["config"]
    fields = [f"fusion={cfg['fusion']!r}"]
    if cfg["fusion"] == "rrf":
        fields += [
            f"rrf_k={cfg['rrf_k']}",
            f"dense_weight={cfg['weights'][0]:g}",
            f"sparse_weight={cfg['weights'][1]:g}",
        ]
    fields.append(f"prefetch_limit={cfg['prefetch']}")
    exact = a["chosen_exact"]
    exact_text = f" (exact search: {exact['metrics']['test']['ndcg@10']:.4f})" if exact else ""
    hybrid = [
        r for r in all_rows(report) if r["config"]["mode"] == "hybrid" and not r["config"]["exact"]
    ]
    top = max(hybrid, key=lambda r: r["metrics"][split]["ndcg@10"])
    per_index = "; ".join(
        index_summary(report, i["bm25_avg_len"], split) for i in report["indexes"]
    )
    delta_lines = [
        f"{s} {d['mean']:+.4f} [{d['bootstrap_95'][0]:+.4f}, {d['bootstrap_95'][1]:+.4f}] "
        f"over {d['queries']} claims"
        for s, d in a["delta_vs_baseline"].items()
    ]
    baseline = a["baseline"]
    return [
        f"- **Recommended defaults** (by {split} nDCG@10): `SearchSettings({', '.join(fields)})`"
        f", `IndexSettings(bm25_avg_len={chosen['bm25_avg_len']:g})`: test nDCG@10 "
        f"{chosen['metrics']['test']['ndcg@10']:.4f}{exact_text}, {split} "
        f"{chosen['metrics'][split]['ndcg@10']:.4f}. Rows within {TIE} of the best {split} "
        f"score ({top['label']}, bm25_avg_len {top['bm25_avg_len']:g}: "
        f"{top['metrics'][split]['ndcg@10']:.4f}) count as tied; the tie goes to the fewest "
        "changes from today's settings.",
        f"- Against today's defaults (RRF k=60, weights 1/1, prefetch 100, bm25_avg_len "
        f"{baseline['bm25_avg_len']:g}: test {baseline['metrics']['test']['ndcg@10']:.4f}, "
        f"{split} {baseline['metrics'][split]['ndcg@10']:.4f}): ΔnDCG@10 with paired "
        f"bootstrap 95% interval: {'; '.join(delta_lines)}",
        f"- bm25_avg_len, {split} nDCG@10 per index: {per_index}",
    ]


def markdown_section(report: dict[str, Any]) -> str:
    """The RESULTS.md section for this run."""
    a = report["analysis"]
    limit = ""
    if report["limit_docs"] or report["limit_queries"]:
        limit = " (**subsample**, not the full benchmark)"
    index_lines = [
        f"- Index bm25_avg_len {i['bm25_avg_len']:g}: {i['index_stats']['documents']} documents, "
        f"{i['index_stats']['chunks']} chunks ({i['index_stats']['chunks_per_document']:.2f} per "
        f"document; {i['index_stats']['mean_model_tokens']:.0f} MiniLM tokens, "
        f"{i['index_stats']['mean_bm25_terms']:.0f} BM25 terms, the length `bm25_avg_len` "
        "stands for, per chunk on average); built "
        f"{i['built']['date']}: {i['built']['added'] + i['built']['updated']} documents "
        f"indexed in {i['built']['seconds']:.0f} s"
        + (
            " (passages and dense vectors replayed from the first index)"
            if i["built"]["replayed"]
            else ""
        )
        + (
            f"; this run: {i['ingest']['unchanged']} unchanged, {i['ingest']['seconds']:.0f} s"
            if i["ingest"]["unchanged"]
            else ""
        )
        for i in report["indexes"]
    ]
    counts = report["qrels_counts"]
    reused = sum(i["built"]["seconds"] for i in report["indexes"] if i["ingest"]["unchanged"])
    lines = [
        SECTION_TITLE,
        "",
        *provenance_lines(report),
        f"- Data: `{report['data']}`: SciFact, {report['corpus_docs']} abstracts{limit}; test: "
        f"{counts['test']['queries']} claims ({counts['test']['qrels']} qrels, "
        "`qrels-test.tsv`)"
        + (
            f"; train: {counts['train']['queries']} claims ({counts['train']['qrels']} qrels, "
            "the `cited_doc_ids` of `claims_train.csv`, as BEIR's train split)"
            if "train" in counts
            else ""
        ),
        f"- Command: `{report['command']}`; total run time {report['seconds'] / 60:.1f} min"
        + (
            f" (+{reused / 60:.1f} min to build the indexes, done by an earlier run)"
            if reused
            else ""
        ),
        *index_lines,
        "",
        table(report),
        "",
        *defaults_lines(report),
        *[f"- {line}" for line in a["checks"]],
        "",
        "How it is measured:",
        "",
        "- Index: every abstract is written to `bench/out/scifact-corpus/<doc_id>.md` "
        "(`# Title`, blank line, abstract) and ingested by `IngestPipeline` as "
        "`citewise ingest` does (unstructured parse and chunking to the 256-token window, "
        "onnx-int8 MiniLM, Qdrant BM25, qdrant-edge, SQLite registry); one data directory per "
        "`bm25_avg_len` under `bench/out/retrieval-quality/`. Only the first index parses and "
        "embeds; the others run the same pipeline (plan, writer, BM25 encoder, index writes, "
        "registry, optimize) with the first index's passages and dense vectors replayed, since "
        "neither depends on `bm25_avg_len` (`--full-reingest` redoes them). Reruns re-ingest "
        "nothing.",
        "- Search: a searcher from `api.composition.build_searcher` per row (the row's search "
        "settings, reranker off); each claim runs through `Searcher.search(text, principal, "
        "k=100, mode=..., exact=...)` as principal `bench` (documents carry the default ACL "
        'group "public"); '
        "the 100 chunks are mapped to SciFact documents by file name and a document ranks by "
        "its best chunk. Hybrid rows with prefetch p50 request 50 chunks, since `Searcher` "
        "raises the prefetch limit to k (the top 10 documents are unaffected). Rows marked exact "
        "pass `exact=True` (brute force in every branch); the others use HNSW with `hnsw_ef` "
        f"{report['hnsw_ef']}.",
        "- Metrics: `pytrec_eval` as in `bench/embedding_quality.py` (`ndcg_cut_10`, "
        "`recall_10`, `recall_100`, MRR@10 = `recip_rank` over the top 10 documents), means "
        "over the claims. The metric columns are the test claims; recall@100 counts the "
        "documents the 100 chunks reach (fewer than 100 when a document has several hits).",
        f"- Tuning: every row is also run on the {report['tune_split']} claims, and the "
        f"defaults are the HNSW hybrid row with the best {report['tune_split']} nDCG@10 "
        f"(rows within {TIE} of it count as tied; the tie goes to the fewest changes from "
        "today's settings, a `bm25_avg_len` change counting double as it re-indexes; RRF "
        "scores tie often and qdrant-edge orders tied points differently from one query to the "
        "next, so RRF rows move between runs, by up to about 0.002 on train and 0.005 on "
        "test; DBSF rows repeat exactly). "
        "Sweep per index: the RRF k x weights grid and DBSF at prefetch 100; then the other "
        f"prefetch limits for today's defaults, DBSF and the {report.get('top', 3)} best RRF "
        "rows (all with `--full-grid`); then the exact twin of the index's best row.",
        "- ms/query: the mean `Searcher.search` time with the query vectors cached (index "
        "query and decoding the 100 hits, no embedding), on a machine shared with other jobs. "
        "Raw numbers and per-query nDCG@10: `bench/out/retrieval_quality.json` (git-ignored).",
        "",
    ]
    return "\n".join(lines)


def print_summary(report: dict[str, Any]) -> None:
    """The table and the verdict on stdout."""
    print()
    print(table(report))
    print()
    print("\n".join(defaults_lines(report)))
    print("\n".join(f"- {line}" for line in report["analysis"]["checks"]))


# -- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, data: SciFact) -> dict[str, Any]:
    """Ingest each index, measure every config, and assemble the report."""
    from api import composition
    from core.settings import Settings

    started = time.perf_counter()
    data = subsample(data, args.limit_docs, args.limit_queries)
    suffix = f"-{len(data.corpus)}" if args.limit_docs else ""
    corpus_dir = args.out / f"scifact-corpus{suffix}"
    written = write_corpus(data.corpus, corpus_dir)
    counts = {
        split: {"queries": len(judged), "qrels": sum(len(d) for d in judged.values())}
        for split, judged in data.qrels.items()
    }
    print(
        f"SciFact: {len(data.corpus)} documents ({written} files written to {corpus_dir}); "
        + ", ".join(f"{s}: {c['queries']} queries, {c['qrels']} qrels" for s, c in counts.items()),
        flush=True,
    )
    work = args.out / "retrieval-quality"

    def settings_for(avg_len: float) -> Any:
        data_dir = work / f"scifact{suffix}-bm25avg{avg_len:g}"
        return Settings.load(data_dir=data_dir, index={"bm25_avg_len": avg_len})

    first = settings_for(args.avg_lens[0])
    embedder = composition.build_embedder(first)
    # Everything that shapes chunks and dense vectors, but not BM25's length normalisation.
    shape = first.model_copy(update={"index": first.index.model_copy(update={"bm25_avg_len": 1})})
    dense = DenseCache(embedder, work / f"dense{suffix}-{composition.pipeline_id(shape)}")
    query_vectors: dict[str, Any] = {}
    replay: dict[str, Any] | None = None
    indexes = []
    for number, avg_len in enumerate(args.avg_lens):
        settings = settings_for(avg_len)
        index_started = time.perf_counter()
        replaying = number > 0 and not args.full_reingest
        print(
            f"[bm25_avg_len {avg_len:g}] ingest {corpus_dir.name} -> {settings.data_dir}"
            + (" (parse and dense vectors replayed from the first index)" if replaying else ""),
            flush=True,
        )
        store_embedder = embedder if number > 0 and args.full_reingest else dense
        with composition.open_store(settings, embedder=store_embedder) as store:
            summary = ingest(settings, store, corpus_dir, replay if replaying else None)
            built = settings.data_dir / "bench-ingest.json"
            if summary["added"] + summary["updated"] or not built.is_file():
                built.write_text(
                    json.dumps(
                        summary | {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                    )
                    + "\n"
                )
            dense.save()
            chunks = all_chunks(store.index)
            if number == 0:
                replay = processed_documents(chunks)
            stats = index_stats(chunks, avg_len)
            print(
                f"  index: {stats['documents']} documents, {stats['chunks']} chunks; per chunk "
                f"{stats['mean_model_tokens']:.0f} MiniLM tokens, "
                f"{stats['mean_bm25_terms']:.0f} BM25 terms (mean)",
                flush=True,
            )
            cached = CachedQueries(
                embedder, composition.build_sparse_encoder(settings), query_vectors
            )
            rows = evaluate_index(data, settings, store, cached, args)
        indexes.append(
            {
                "bm25_avg_len": avg_len,
                "data_dir": os.path.relpath(settings.data_dir, REPO),
                "ingest": summary,
                "built": json.loads(built.read_text()),
                "index_stats": stats,
                "rows": rows,
                "seconds": time.perf_counter() - index_started,
            }
        )
    report: dict[str, Any] = {
        **provenance(),
        "command": args.command,
        "data": args.data_label,
        "source": data.source,
        "limit_docs": args.limit_docs,
        "limit_queries": args.limit_queries,
        "corpus_docs": len(data.corpus),
        "qrels_counts": counts,
        "tune_split": "train" if "train" in data.qrels else "test",
        "hnsw_ef": first.search.hnsw_ef,
        "replayed_variants": not args.full_reingest,
        "top": "all" if args.full_grid else args.top,
        "indexes": indexes,
        "seconds": time.perf_counter() - started,
    }
    report["analysis"] = analyse(report)
    return report


def weights_pair(text: str) -> tuple[float, float]:
    """``dense,sparse`` as a pair of floats."""
    try:
        dense, sparse = (float(x) for x in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected DENSE,SPARSE, got {text!r}") from e
    return dense, sparse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_dir(),
        help="SciFact directory (default: $CITEWISE_SHARED_DATA/scifact or ../shared/data/scifact)",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="corpus files and index data dirs go here"
    )
    parser.add_argument(
        "--avg-lens",
        type=float,
        nargs="+",
        default=[256.0, 100.0],
        help="bm25_avg_len values, one index each (the first is the baseline)",
    )
    parser.add_argument("--rrf-k", type=int, nargs="+", default=[2, 10, 20, 60])
    parser.add_argument(
        "--weights",
        type=weights_pair,
        nargs="+",
        default=[(1.0, 1.0), (1.0, 1.5), (1.5, 1.0)],
        help="RRF (dense,sparse) weights",
    )
    parser.add_argument("--prefetch", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument(
        "--no-sweep", action="store_true", help="only the modes and today's defaults"
    )
    parser.add_argument(
        "--top",
        type=int,
        default=3,
        help="RRF rows of the fusion grid also run at the other prefetch limits",
    )
    parser.add_argument(
        "--full-grid", action="store_true", help="every fusion row at every prefetch limit"
    )
    parser.add_argument(
        "--full-reingest",
        action="store_true",
        help="parse and embed again for every bm25_avg_len (default: replay the first index's "
        "passages and dense vectors; only the BM25 vectors are recomputed)",
    )
    add_subsample_options(parser, "quick run: N documents", "quick run: N queries per split")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave RESULTS.md and JSON alone"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="re-render RESULTS.md from the JSON"
    )
    args = parser.parse_args(argv)
    check_subsample(parser, args)
    args.data = args.data.resolve()
    args.out = args.out.resolve()
    args.data_label = repo_relative(args.data)
    args.command = command_line("retrieval_quality.py", argv)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.report_only:
        report = json.loads(OUT_JSON.read_text())
        report["analysis"] = analyse(report)
        print_summary(report)
        write_section(markdown_section(report))
        return
    data = load_scifact(args.data)
    if data is None:
        return
    for name, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}.items():
        os.environ.setdefault(name, value)
    report = run(args, data)
    print_summary(report)
    print(f"\ntotal {report['seconds'] / 60:.1f} min")
    if args.no_write:
        return
    write_json(OUT_JSON, report)
    write_section(markdown_section(report))
    print(f"wrote {OUT_JSON.relative_to(REPO)} and {RESULTS_MD.relative_to(REPO)}")


if __name__ == "__main__":
    main()
