"""Search latency at 10k and 100k chunks: Citewise on qdrant-edge against llama-index over Qdrant.

Corpus (``bench/search_corpus.py``): real text from the shared handbooks, SEC 10-Q filings and
SciFact abstracts, split with llama-index's ``SentenceSplitter`` in MiniLM tokens (~150-250 per
chunk), re-split at other sizes until 100k unique chunks exist, embedded once with Citewise's
embedder (default backend) and cached. The 10k index holds the first 10k chunks of the same
order (a random sample of the first split).

Systems, each in its own fresh subprocess (this script re-invoked with ``--child``), so RSS and
timings are attributable:

``citewise``
    ``retrieval.search.Searcher`` over a ``QdrantEdgeIndex`` built from the cached vectors plus
    BM25 (``build_sparse_encoder``), flushed and optimized (HNSW m=16, ef_construct=100), with
    ``RankingOptions()`` (100 candidates per branch, hnsw_ef=128) with the fusion set to RRF
    (k=60; what the acceptance targets name) or DBSF (the product default). Timed:
    ``Searcher.search(q, principal, k=10, mode=...)``, query embedding (onnx-int8) included, in
    modes hybrid (RRF, DBSF), dense, sparse, and hybrid/dense with ``exact=True`` (brute
    force).
``llamaindex``
    ``VectorStoreIndex`` over ``QdrantVectorStore(client=QdrantClient(path=...))`` (qdrant-
    client local mode), loaded with the same texts and the same precomputed vectors (TextNodes
    carry their embedding, so nothing is re-embedded); timed:
    ``index.as_retriever(similarity_top_k=10).retrieve(q)`` with llama-index's query embedding
    (``HuggingFaceEmbedding`` over the shipped MiniLM, sentence-transformers fp32). Dense only.
``llamaindex-blas1``
    The same with ``OPENBLAS_NUM_THREADS=1``: by default the numpy calls of the local-mode
    search leave OpenBLAS threads spinning, which roughly doubles the next torch query
    embedding on 2 cores. The speedup target is checked against both.

Queries: the 195 questions of the SEC 10-Q Q&A file and the 300 SciFact test claims (495);
20 other SciFact claims warm each mode up first. HNSW recall@10 = mean over queries of
|top-10 ids ∩ exact top-10 ids| / 10, for dense and for each hybrid fusion (exact hybrid =
both branches exact; the BM25 branch is exact anyway).

Indexes are cached under ``bench/out/search-latency/`` (keyed by corpus and size); the parent
builds what is missing, then measures, prints a table, writes ``bench/out/search_latency.json``
and replaces its section of ``bench/RESULTS.md``.

Usage::

    nice -n 10 .venv/bin/python bench/search_latency.py              # everything (long once)
    .venv/bin/python bench/search_latency.py --measure-only          # timing only, cached indexes
    .venv/bin/python bench/search_latency.py --sizes 10000 --no-write
    .venv/bin/python bench/search_latency.py --report-only           # re-render from the JSON
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import search_corpus
from report import (
    OUT_DIR,
    REPO,
    RESULTS_MD,
    add_report_options,
    command_line,
    disk_mb,
    load1,
    markdown_table,
    peak_rss_mb,
    percentiles,
    provenance,
    provenance_lines,
    rss_mb,
    write_json,
    write_section,
)

WORK_DIR = search_corpus.OUT_DIR
OUT_JSON = OUT_DIR / "search_latency.json"
SECTION_TITLE = "## Search latency (bench/search_latency.py)"

DEFAULT_SIZES = (10_000, 100_000)
K = 10
WARM_UP_QUERIES = 20
UPSERT_BATCH = 1_000
LLAMA_INSERT_BATCH = 5_000
LLAMA_COLLECTION = "bench"
SEC_QNA = Path("sec-10q") / "sec-10-q" / "data" / "v1" / "qna_data.csv"

TARGET_P95_MS = 20.0
TARGET_SPEEDUP = 10.0
TARGET_RECALL = 0.95

CHILD_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

CITEWISE_MODES = (
    # (row name, SearchMode value, fusion for hybrid, exact)
    ("hybrid rrf", "hybrid", "rrf", False),
    ("hybrid dbsf", "hybrid", "dbsf", False),
    ("dense", "dense", None, False),
    ("sparse", "sparse", None, False),
    ("hybrid rrf exact", "hybrid", "rrf", True),
    ("hybrid dbsf exact", "hybrid", "dbsf", True),
    ("dense exact", "dense", None, True),
)
"""The timed modes. The acceptance targets are on ``hybrid rrf``; DBSF is the product's
default fusion (``RankingOptions()``) since 166507b, so it is measured beside it."""
RECALL_PAIRS = (
    ("hybrid rrf", "hybrid rrf exact"),
    ("hybrid dbsf", "hybrid dbsf exact"),
    ("dense", "dense exact"),
)
PRIMARY = "hybrid rrf"

SYSTEMS = ("citewise", "llamaindex", "llamaindex-blas1")
BASELINES = ("llamaindex", "llamaindex-blas1")
SYSTEM_ENV = {"llamaindex-blas1": {"OPENBLAS_NUM_THREADS": "1"}}
"""``llamaindex-blas1`` is the same baseline with numpy's OpenBLAS on one thread. By default
the local-mode search's numpy calls leave two OpenBLAS threads spinning, which slows the next
query's torch embedding on this 2-core machine by about 2x; the variant shows the baseline
without that self-inflicted cost, so the speedup does not rest on it."""


# -- queries ----------------------------------------------------------------------------------


def load_queries(data: Path) -> tuple[list[str], list[str], dict[str, int]]:
    """Measured queries (SEC 10-Q questions, SciFact test claims), warm-up queries (other
    SciFact claims) and how many measured queries came from each set."""
    with (data / SEC_QNA).open(encoding="utf-8-sig", newline="") as handle:
        sec = [row["Question"].strip() for row in csv.DictReader(handle)]
    scifact = data / "scifact"
    tested = {line.split()[0] for line in (scifact / "qrels-test.tsv").read_text().splitlines()}
    claims: list[tuple[str, str]] = []
    with (scifact / "queries.jsonl").open() as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                claims.append((str(record["_id"]), record["text"].strip()))
    test = [text for qid, text in claims if qid in tested]
    others = [text for qid, text in claims if qid not in tested]
    queries = [q for q in sec + test if q]
    return queries, others[:WARM_UP_QUERIES], {"sec-10q": len(sec), "scifact-test": len(test)}


# -- timing -------------------------------------------------------------------------------------


class Clock:
    """Seconds accumulated by a wrapped call (the query embedding) since the last reset."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        """Account one call."""
        self.seconds += seconds


class ClockedEmbedder:
    """Our embedder with its ``embed_query`` timed (one ``perf_counter`` pair per call)."""

    def __init__(self, inner: Any, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension."""
        return int(self._inner.dimension)

    def warm_up(self) -> None:
        """Load the inner model."""
        self._inner.warm_up()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Passed through, untimed."""
        return list(self._inner.embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        """Timed."""
        started = time.perf_counter()
        try:
            return list(self._inner.embed_query(text))
        finally:
            self._clock.add(time.perf_counter() - started)


def timed_runs(
    modes: dict[str, Callable[[str], list[str]]],
    queries: Sequence[str],
    warm: Sequence[str],
    clock: Clock,
) -> dict[str, dict[str, Any]]:
    """Time every mode on every query: wall, CPU, and the query embedding inside the call
    (read from ``clock``); keep the returned ids.

    Every mode first runs the warm-up queries. Then the modes are interleaved query by query,
    starting one mode further on for each query, so that load from other processes, cache
    warmth and the order of modes fall on all modes alike.
    """
    names = list(modes)
    for q in warm:
        for name in names:
            modes[name](q)
    before = load1()
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    embeds: dict[str, list[float]] = {n: [] for n in names}
    ids: dict[str, list[list[str]]] = {n: [] for n in names}
    for number, q in enumerate(queries):
        for step in range(len(names)):
            name = names[(number + step) % len(names)]
            clock.seconds = 0.0
            cpu0 = time.process_time()
            wall0 = time.perf_counter()
            result = modes[name](q)
            walls[name].append(time.perf_counter() - wall0)
            cpus[name].append(time.process_time() - cpu0)
            embeds[name].append(clock.seconds)
            ids[name].append(result)
    after = load1()
    return {
        name: {
            **percentiles(walls[name]),
            "embed": percentiles(embeds[name]),
            "without_embed": percentiles(
                [w - e for w, e in zip(walls[name], embeds[name], strict=True)]
            ),
            "cpu_mean_ms": round(float(np.mean(cpus[name])) * 1000, 2),
            "queries": len(walls[name]),
            "load1_before": before,
            "load1_after": after,
            "ids": ids[name],
        }
        for name in names
    }


def overlap_at_k(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> float:
    """Mean |found ∩ truth| / |truth| over queries (recall@k of an approximate list)."""
    shares = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return round(float(np.mean(shares)), 4) if shares else float("nan")


# -- paths --------------------------------------------------------------------------------------


def corpus_dir(args: argparse.Namespace) -> Path:
    """The cached corpus (chunks and vectors) this run uses."""
    return search_corpus.corpus_dir(args.corpus_chunks, args.backend)


def edge_dir(args: argparse.Namespace, size: int) -> Path:
    """Where the qdrant-edge index of ``size`` chunks is cached (``shard/`` + ``build.json``)."""
    return WORK_DIR / f"edge-{corpus_dir(args).name.removeprefix('corpus-')}-{size}"


def citewise_settings(work: Path) -> Any:
    """Citewise settings with a scratch data directory (model cache stays the default)."""
    from core.settings import Settings

    return Settings.load(data_dir=work)


# -- children: build ------------------------------------------------------------------------------


def build_edge(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Write ``size`` chunks (cached dense vectors + BM25) into a fresh qdrant-edge index,
    flush, optimize; record the times, RSS and disk size in ``build.json``."""
    from api import composition
    from core.ids import chunk_id, document_id
    from core.models import Acl, Chunk
    from retrieval.embedder import MINILM_DIMENSION
    from retrieval.index import IndexedChunk
    from retrieval.qdrant_edge_index import QdrantEdgeIndex

    directory = edge_dir(args, size)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    chunks = search_corpus.load_chunks(corpus_dir(args))[:size]
    dense = np.load(corpus_dir(args) / "dense.npy", mmap_mode="r")[:size]
    settings = citewise_settings(directory / "data")
    sparse = composition.build_sparse_encoder(settings)
    index = QdrantEdgeIndex(
        directory / "shard",
        dimension=MINILM_DIMENSION,
        hnsw_m=settings.index.hnsw_m,
        hnsw_ef_construct=settings.index.hnsw_ef_construct,
    ).open()
    public = Acl(groups=("public",))
    bm25_s = upsert_s = 0.0
    started = time.perf_counter()
    for start in range(0, size, UPSERT_BATCH):
        batch = chunks[start : start + UPSERT_BATCH]
        t0 = time.perf_counter()
        points = []
        for offset, c in enumerate(batch):
            doc_id = document_id(c.uri)
            points.append(
                IndexedChunk(
                    chunk=Chunk(
                        chunk_id=chunk_id(doc_id, c.split, c.ordinal),
                        doc_id=doc_id,
                        version=c.split,
                        ordinal=c.ordinal,
                        text=c.text,
                        title=c.title,
                        source_uri=c.uri,
                        file_type=c.corpus,
                        acl=public,
                    ),
                    dense=dense[start + offset].tolist(),
                    sparse=sparse.encode_document(c.embedding_text()),
                )
            )
        t1 = time.perf_counter()
        index.upsert(points)
        bm25_s += t1 - t0
        upsert_s += time.perf_counter() - t1
    t0 = time.perf_counter()
    index.flush()
    flush_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.optimize()
    optimize_s = time.perf_counter() - t0
    count = index.count()
    info = str(index.shard.info())
    index.close()
    build = {
        "size": size,
        "points": count,
        "payload_and_bm25_s": round(bm25_s, 1),
        "upsert_s": round(upsert_s, 1),
        "flush_s": round(flush_s, 1),
        "optimize_s": round(optimize_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "disk_mb": disk_mb(directory / "shard"),
        "hnsw_m": settings.index.hnsw_m,
        "hnsw_ef_construct": settings.index.hnsw_ef_construct,
        "shard_info": info[:2000],
        "built": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    (directory / "build.json").write_text(json.dumps(build, indent=2) + "\n")
    return build


# -- children: measure ----------------------------------------------------------------------------


def measure_citewise(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Open the cached index and time ``Searcher.search`` per mode (query embedding included)."""
    from api import composition
    from core.models import Principal
    from retrieval.embedder import MINILM_DIMENSION
    from retrieval.qdrant_edge_index import QdrantEdgeIndex
    from retrieval.query import FusionMethod, SearchMode
    from retrieval.search import RankingOptions, Searcher

    directory = edge_dir(args, size)
    queries, warm, _ = load_queries(args.data)
    settings = citewise_settings(directory / "data")
    rss_start = rss_mb()
    clock = Clock()
    embedder = ClockedEmbedder(composition.build_embedder(settings), clock)
    sparse = composition.build_sparse_encoder(settings)
    embedder.warm_up()
    embedder.embed_query("warm up")
    rss_model = rss_mb()
    t0 = time.perf_counter()
    index = QdrantEdgeIndex(directory / "shard", dimension=MINILM_DIMENSION).open()
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    options = RankingOptions()
    searchers = {
        fusion: Searcher(
            index, embedder, sparse, options=replace(options, fusion=FusionMethod(fusion))
        )
        for fusion in ("rrf", "dbsf")
    }
    principal = Principal(user_id="bench")

    def searching(searcher: Searcher, mode: SearchMode, exact: bool) -> Callable[[str], list[str]]:
        def run(q: str) -> list[str]:
            hits = searcher.search(q, principal, k=K, mode=mode, exact=exact)
            return [h.chunk.chunk_id for h in hits]

        return run

    modes = {
        name: searching(searchers[fusion or "rrf"], SearchMode(mode_name), exact)
        for name, mode_name, fusion, exact in CITEWISE_MODES
    }
    try:
        points = index.count()
        runs = timed_runs(modes, queries, warm, clock)
    finally:
        index.close()
    for name, run_result in runs.items():
        print(f"  {name}: p95 {run_result['p95_ms']} ms", flush=True)
    for approximate, exact_run in RECALL_PAIRS:
        runs[approximate]["recall"] = overlap_at_k(runs[approximate]["ids"], runs[exact_run]["ids"])
    return {
        "system": "citewise",
        "size": size,
        "points": points,
        "open_s": round(open_s, 2),
        "rss_start_mb": round(rss_start, 1),
        "rss_model_mb": round(rss_model, 1),
        "rss_open_mb": round(rss_open, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "disk_mb": disk_mb(directory / "shard"),
        "options": {
            "default_fusion": str(options.fusion),
            "rrf_k": options.rrf_k,
            "prefetch_limit": options.prefetch_limit,
            "hnsw_ef": options.hnsw_ef,
            "backend": settings.embedding.backend,
        },
        "runs": runs,
    }


def llama_embed_model(clock: Clock | None = None) -> Any:
    """llama-index's HuggingFaceEmbedding over the shipped MiniLM (sentence-transformers);
    with ``clock``, its query embedding is timed (the class method is wrapped)."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from retrieval.embedder import shipped_minilm_path

    LlamaSettings.llm = None  # nothing implicit (no OpenAI defaults)
    if clock is not None:
        original = HuggingFaceEmbedding._get_query_embedding

        def timed(self: Any, query: str) -> list[float]:
            started = time.perf_counter()
            try:
                return list(original(self, query))
            finally:
                clock.add(time.perf_counter() - started)

        HuggingFaceEmbedding._get_query_embedding = timed  # type: ignore[method-assign]
    return HuggingFaceEmbedding(model_name=str(shipped_minilm_path()), device="cpu")


def load_llama(args: argparse.Namespace, size: int, embed_model: Any) -> tuple[Any, Any, float]:
    """``size`` TextNodes carrying their precomputed vectors, inserted through
    ``VectorStoreIndex`` into an in-memory local-mode Qdrant (``insert_nodes``, 5,000 per call,
    so nothing is embedded): (index, client, seconds)."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from core.ids import chunk_id, document_id

    chunks = search_corpus.load_chunks(corpus_dir(args))[:size]
    dense = np.load(corpus_dir(args) / "dense.npy", mmap_mode="r")[:size]
    started = time.perf_counter()
    client = QdrantClient(location=":memory:")
    store = QdrantVectorStore(client=client, collection_name=LLAMA_COLLECTION)
    index = VectorStoreIndex(
        nodes=[],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    for start in range(0, size, LLAMA_INSERT_BATCH):
        nodes = [
            TextNode(
                id_=chunk_id(document_id(c.uri), c.split, c.ordinal),
                text=c.embedding_text(),
                embedding=dense[start + offset].tolist(),
                metadata={"source_uri": c.uri},
            )
            for offset, c in enumerate(chunks[start : start + LLAMA_INSERT_BATCH])
        ]
        index.insert_nodes(nodes)
    return index, client, time.perf_counter() - started


def measure_llama(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Load the store (timed apart), then time ``retriever.retrieve`` per query."""
    import torch

    queries, warm, _ = load_queries(args.data)
    rss_start = rss_mb()
    clock = Clock()
    embed_model = llama_embed_model(clock)
    embed_model.get_query_embedding("warm up")
    rss_model = rss_mb()
    index, client, load_s = load_llama(args, size, embed_model)
    rss_open = rss_mb()
    points = client.count(LLAMA_COLLECTION, exact=True).count
    retriever = index.as_retriever(similarity_top_k=K)

    def run(q: str) -> list[str]:
        return [n.node.node_id for n in retriever.retrieve(q)]

    # Probe the per-query cost; where the whole set would take too long, measure every n-th.
    probe = time.perf_counter()
    for q in warm[:5]:
        run(q)
    per_query = (time.perf_counter() - probe) / 5
    measured = list(queries)
    if args.baseline_budget_s and per_query * len(measured) > args.baseline_budget_s:
        keep = max(args.baseline_min_queries, int(args.baseline_budget_s / per_query))
        measured = measured[:: max(1, len(measured) // keep)][:keep]
    runs = timed_runs({"dense": run}, measured, warm, clock)
    print(f"  dense: p95 {runs['dense']['p95_ms']} ms ({len(measured)} queries)", flush=True)
    client.close()
    return {
        "system": "llamaindex",
        "size": size,
        "points": points,
        "open_s": round(load_s, 2),
        "rss_start_mb": round(rss_start, 1),
        "rss_model_mb": round(rss_model, 1),
        "rss_open_mb": round(rss_open, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "disk_mb": None,
        "torch_threads": torch.get_num_threads(),
        "measured_query_indexes": [queries.index(q) for q in measured],
        "runs": runs,
    }


CHILDREN: dict[str, Callable[[argparse.Namespace, int], dict[str, Any]]] = {
    "build-citewise": build_edge,
    "measure-citewise": measure_citewise,
    "measure-llamaindex": measure_llama,
}


# -- the parent ------------------------------------------------------------------------------------


def spawn(
    task: str, size: int, args: argparse.Namespace, *, name: str | None = None
) -> dict[str, Any]:
    """Run one child task in a fresh interpreter; its log goes to ``bench/out/``. ``name``
    (default: the task) names its files and picks extra environment from ``SYSTEM_ENV``."""
    label = name or task
    out = WORK_DIR / f"{label}-{size}.json"
    log = WORK_DIR / f"{label}-{size}.log"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update(CHILD_ENV)
    env.update(SYSTEM_ENV.get(label.removeprefix("measure-"), {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        task,
        "--size",
        str(size),
        "--out",
        str(out),
        *child_options(args),
    ]
    print(f"[{label} {size}] started (log: {log.relative_to(REPO)})", flush=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.run(
            command, check=False, stdout=handle, stderr=subprocess.STDOUT, env=env
        ).returncode
    if code != 0 or not out.exists():
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"[{label} {size}] failed (exit {code}):\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["child_wall_s"] = round(time.perf_counter() - started, 1)
    result["system"] = label.removeprefix("measure-")
    print(f"[{label} {size}] done in {result['child_wall_s']} s", flush=True)
    return result


def child_options(args: argparse.Namespace) -> list[str]:
    """The options every child needs to find the same corpus and queries."""
    options = ["--data", str(args.data), "--corpus-chunks", str(args.corpus_chunks)]
    options += ["--backend", args.backend, "--baseline-budget-s", str(args.baseline_budget_s)]
    options += ["--baseline-min-queries", str(args.baseline_min_queries)]
    return options


def ensure_corpus(args: argparse.Namespace) -> dict[str, Any]:
    """Build and embed the corpus (in a child process) unless it is cached; return its stats."""
    directory = corpus_dir(args)
    if not (directory / "dense.npy").is_file():
        if args.measure_only:
            raise SystemExit(f"--measure-only: no cached corpus at {directory}")
        command = [
            sys.executable,
            str(Path(__file__).resolve().parent / "search_corpus.py"),
            "--data",
            str(args.data),
            "--chunks",
            str(args.corpus_chunks),
            "--backend",
            args.backend,
        ]
        env = {**os.environ, **CHILD_ENV}
        print(f"[corpus] building and embedding {args.corpus_chunks} chunks", flush=True)
        if subprocess.run(command, check=False, env=env).returncode != 0:
            raise SystemExit("[corpus] failed")
    stats = json.loads((directory / "stats.json").read_text())
    timing_file = directory / "embed_timing.json"
    if timing_file.is_file():
        timing = json.loads(timing_file.read_text())
        stats["embed"] = {k: v for k, v in timing.items() if k != "blocks"}
    stats["dir"] = str(directory.relative_to(REPO))
    return stats


def ensure_built(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The cached build of our index, building it first when missing (never with
    ``--measure-only``) or when ``--rebuild`` asks."""
    directory = edge_dir(args, size)
    marker = directory / "build.json"
    if marker.is_file() and not args.rebuild:
        return dict(json.loads(marker.read_text()))
    if args.measure_only:
        raise SystemExit(f"--measure-only: no cached index at {directory}")
    return spawn("build-citewise", size, args)


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per (size, system, mode)."""
    out = []
    for size_key, entry in report["sizes"].items():
        for system in SYSTEMS:
            measured = entry.get(system)
            if not measured:
                continue
            build = entry["builds"].get(system, {})
            for mode, run in measured["runs"].items():
                if "embed" not in run:
                    continue
                out.append(
                    {
                        "size": int(size_key),
                        "system": system,
                        "mode": mode,
                        **{k: run[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")},
                        "embed_p50_ms": run["embed"]["p50_ms"],
                        "rest_p50_ms": run["without_embed"]["p50_ms"],
                        "rest_p95_ms": run["without_embed"]["p95_ms"],
                        "cpu_mean_ms": run["cpu_mean_ms"],
                        "queries": run["queries"],
                        "recall": run.get("recall"),
                        "rss_mb": measured["rss_end_mb"],
                        "peak_rss_mb": measured["peak_rss_mb"],
                        "open_s": measured["open_s"],
                        "build_s": build.get("total_s"),
                        "disk_mb": measured.get("disk_mb"),
                        "load": (run["load1_before"], run["load1_after"]),
                    }
                )
    return out


def checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The acceptance checks, per size."""
    results = []
    for size_key, entry in report["sizes"].items():
        ours = entry.get("citewise")
        if not ours:
            continue
        n = f"{int(size_key):,} chunks"
        runs = ours["runs"]
        hybrid = runs[PRIMARY]["p95_ms"]
        results.append(
            {
                "name": f"{n}: citewise hybrid (RRF) p95, query embedding included",
                "value": hybrid,
                "target": f"<= {TARGET_P95_MS:g} ms",
                "pass": hybrid <= TARGET_P95_MS,
                "fmt": "ms",
            }
        )
        for baseline in BASELINES:
            base = entry.get(baseline)
            if not base:
                continue
            speedup = base["runs"]["dense"]["p95_ms"] / hybrid
            results.append(
                {
                    "name": f"{n}: {baseline} dense p95 / citewise hybrid (RRF) p95",
                    "value": round(speedup, 2),
                    "target": f">= {TARGET_SPEEDUP:g}x",
                    "pass": speedup >= TARGET_SPEEDUP,
                    "fmt": "x",
                }
            )
        for mode in ("dense", PRIMARY):
            recall = runs[mode]["recall"]
            results.append(
                {
                    "name": f"{n}: citewise {mode} recall@10, HNSW vs exact",
                    "value": recall,
                    "target": f">= {TARGET_RECALL:g}",
                    "pass": recall >= TARGET_RECALL,
                    "fmt": "",
                }
            )
    return results


def cross_checks(report: dict[str, Any]) -> list[str]:
    """Ratios that are not targets but help read the table."""
    lines = []
    for size_key, entry in report["sizes"].items():
        for baseline in BASELINES:
            ours, base = entry.get("citewise"), entry.get(baseline)
            if ours and base:
                lines += baseline_comparison(int(size_key), baseline, ours["runs"], base)
    return lines


def baseline_comparison(
    size: int, baseline: str, r: dict[str, Any], base: dict[str, Any]
) -> list[str]:
    """Like-for-like dense ratio, the split into embedding and the rest, top-10 agreement."""
    b = base["runs"]
    lines = [
        f"- {size:,} chunks, {baseline}, like for like (dense vs dense): p95 ratio "
        f"{b['dense']['p95_ms'] / r['dense']['p95_ms']:.1f}x; without the query embedding "
        f"(per-query wall minus that query's embedding time): {baseline} dense p95 "
        f"{fmt_ms(b['dense']['without_embed']['p95_ms'])} ms vs citewise dense "
        f"{fmt_ms(r['dense']['without_embed']['p95_ms'])} ms and hybrid (RRF) "
        f"{fmt_ms(r[PRIMARY]['without_embed']['p95_ms'])} ms; query embedding p50: "
        f"{baseline} (torch fp32) {fmt_ms(b['dense']['embed']['p50_ms'])} ms, citewise "
        f"(onnx-int8) {fmt_ms(r['dense']['embed']['p50_ms'])} ms"
    ]
    agree = base.get("agreement_with_citewise_dense_exact")
    if agree is not None:
        lines.append(
            f"- {size:,} chunks, {baseline}: its top 10 vs citewise dense exact top 10 (same "
            f"document vectors; queries embedded by torch fp32 vs onnx-int8): mean overlap "
            f"{agree:.3f}"
        )
    return lines


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(report: dict[str, Any]) -> str:
    """The markdown results table."""
    header = ["size", "system", "mode", "p50 ms", "p95 ms", "p99 ms", "mean ms"]
    header += ["query embedding p50 ms", "p95 ms excl. query embedding", "CPU ms/query"]
    header += ["queries", "recall@10 vs exact", "RSS MB (peak)", "index on disk MB"]
    header += ["open/load s", "build s"]
    lines = []
    for r in rows(report):
        if r["recall"] is not None:
            recall = f"{r['recall']:.4f}"
        elif r["system"] in BASELINES:
            recall = "exact (brute force)"
        else:
            recall = "(exact)"
        embed = fmt_ms(r["embed_p50_ms"]) if r["mode"] != "sparse" else "-"
        disk = r["disk_mb"] if r["disk_mb"] is not None else "- (in memory)"
        build = r["build_s"] if r["build_s"] is not None else "-"
        lines.append(
            [f"{r['size']:,}", r["system"], r["mode"]]
            + [fmt_ms(r[key]) for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")]
            + [embed, fmt_ms(r["rest_p95_ms"]), fmt_ms(r["cpu_mean_ms"]), r["queries"], recall]
            + [f"{r['rss_mb']:.0f} ({r['peak_rss_mb']:.0f})", disk, r["open_s"], build]
        )
    return markdown_table(header, lines, text_columns=(1, 2))


def check_lines(report: dict[str, Any]) -> list[str]:
    """One line per acceptance check."""
    lines = []
    for c in report["checks"]:
        value = f"{c['value']:.4f}" if c["fmt"] == "" else f"{c['value']:g} {c['fmt']}"
        lines.append(
            f"- {c['name']} = **{value}** (target {c['target']}): "
            f"**{'PASS' if c['pass'] else 'FAIL'}**"
        )
    return lines


def load_lines(report: dict[str, Any]) -> list[str]:
    """1-minute load average before→after each measuring process's timed queries."""
    seen: dict[str, str] = {}
    for r in rows(report):
        seen.setdefault(f"{r['size'] // 1000}k {r['system']}", f"{r['load'][0]}→{r['load'][1]}")
    parts = [f"{name} {load}" for name, load in seen.items()]
    return ["- 1-minute load average before→after the timed queries: " + ", ".join(parts)]


def corpus_line(report: dict[str, Any]) -> str:
    """What the chunks are."""
    c = report["corpus"]
    per = ", ".join(f"{k} {v:,}" for k, v in c["chunks_per_corpus"].items())
    passes = "; ".join(f"{p['chunk_size']}/{p['overlap']}: +{p['new']:,}" for p in c["passes"])
    embed = c.get("embed", {})
    embedded = (
        f"; embedded once with our embedder ({embed.get('backend')}) in "
        f"{embed.get('total_wall_s')} s wall / {embed.get('total_cpu_s')} CPU s, cached"
        if embed
        else ""
    )
    return (
        f"- Corpus: {report['corpus_chunks']:,} unique chunks from {c['documents']:,} documents "
        f"({per}); MiniLM tokens per embedded chunk (title line + text): mean "
        f"{c['tokens_per_chunk_mean']}, 5th-95th percentile {c['tokens_per_chunk_p5_p95'][0]}-"
        f"{c['tokens_per_chunk_p5_p95'][1]}; `SentenceSplitter` passes (chunk size/overlap: "
        f"new unique chunks, {c['split_s']:.0f} s) {passes}{embedded}. The 10k index is the "
        "first 10k (a random sample of the first pass); 100k is all of them."
    )


def markdown_section(report: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    q = report["queries"]
    lines = [
        SECTION_TITLE,
        "",
        *provenance_lines(report),
        f"- Command: `{report['command']}`",
        corpus_line(report),
        f"- Queries: {q['count']} measured ({q['per_set']['sec-10q']} SEC 10-Q questions, "
        f"{q['per_set']['scifact-test']} SciFact test claims), after {q['warm_up']} other "
        "SciFact claims as warm-up per mode; k = 10",
    ]
    if report.get("note"):
        lines.append(f"- Note: {report['note']}")
    lines += ["", table(report), "", *check_lines(report), *cross_checks(report)]
    lines += [*baseline_notes(report), *load_lines(report), *step_lines(report)]
    lines += ["", *how_measured(report), ""]
    return "\n".join(lines)


def step_lines(report: dict[str, Any]) -> list[str]:
    """Wall time of each step of the run that produced these numbers."""
    steps = report.get("steps_s", {})
    if not steps:
        return []
    parts = [f"{name} {seconds:g} s" for name, seconds in steps.items() if name != "total"]
    return [f"- This run's steps (wall): {', '.join(parts)}; total {steps.get('total', '?')} s"]


def baseline_notes(report: dict[str, Any]) -> list[str]:
    """How many queries the baseline ran, and its build times."""
    lines = []
    for size_key, entry in report["sizes"].items():
        for baseline in BASELINES:
            base = entry.get(baseline)
            if base and base["runs"]["dense"]["queries"] < report["queries"]["count"]:
                lines.append(
                    f"- {int(size_key):,} chunks: {baseline} measured on "
                    f"{base['runs']['dense']['queries']} of {report['queries']['count']} "
                    "queries (every n-th), to bound its run time"
                )
    builds = []
    for size_key, entry in report["sizes"].items():
        build = entry["builds"].get("citewise")
        if build:
            builds.append(
                f"{int(size_key) // 1000}k: {build['total_s']} s (payload + BM25 "
                f"{build['payload_and_bm25_s']} s, upserts {build['upsert_s']} s, flush "
                f"{build['flush_s']} s, optimize/HNSW {build['optimize_s']} s), peak RSS "
                f"{build['peak_rss_mb']:.0f} MB"
            )
    if builds:
        lines.append(
            "- citewise index builds (one-off, cached; not in the latency figures): "
            + "; ".join(builds)
        )
    loads = [
        f"{int(size_key) // 1000}k {baseline}: {entry[baseline]['open_s']} s"
        for size_key, entry in report["sizes"].items()
        for baseline in BASELINES
        if entry.get(baseline)
    ]
    if loads:
        lines.append(
            "- llama-index load into in-memory local-mode Qdrant (precomputed vectors; in the "
            "measuring process, not in the latency figures): " + "; ".join(loads)
        )
    return lines


def how_measured(report: dict[str, Any]) -> list[str]:
    """The method paragraph."""
    return [
        "How it is measured:",
        "",
        "- Each (system, size) runs in its own fresh Python process: citewise opens the "
        "cached qdrant-edge index; llama-index loads the same texts and precomputed vectors "
        "into an in-memory local-mode Qdrant through `VectorStoreIndex.insert_nodes` (5,000 "
        "TextNodes per call; a `path=` store commits to SQLite once per point, ~14 ms each "
        "here, so 100k points would take ~25 min to build). Each process loads and warms its "
        "query model, then times each mode: 20 warm-up queries, then every measured query "
        "once, one after another.",
        "- *p50/p95/p99/mean* are per-query wall times (`perf_counter`) of the whole call, "
        "query embedding included: citewise `Searcher.search(q, Principal(user_id='bench'), "
        "k=10, mode=...)` (onnx-int8 query embedding, BM25 query encoding, one qdrant-edge "
        "query with the access filter on every branch, payloads loaded; `RankingOptions()`: "
        "100 candidates per branch, hnsw_ef=128, fusion RRF k=60 or DBSF, the product "
        "default since 166507b; the targets are on RRF); llama-index "
        "`index.as_retriever(similarity_top_k=10).retrieve(q)` (`HuggingFaceEmbedding`, "
        "sentence-transformers fp32 query embedding, then qdrant-client local mode, which "
        "scores every point with numpy: exact, no HNSW, and dense only). *query embedding "
        "p50* times the dense query embedding inside each call (our `embed_query`, "
        "llama-index's `_get_query_embedding`, wrapped with a `perf_counter` pair); *p95 excl. "
        "query embedding* is the p95 of (call - its embedding): BM25 encoding, the index "
        "query and result assembly. *CPU ms/query* is `process_time` (all threads).",
        "- *llamaindex-blas1* is the same baseline process with `OPENBLAS_NUM_THREADS=1`: "
        "by default numpy's two OpenBLAS threads keep spinning after the local-mode search "
        "and slow the next query's torch embedding about 2x on this 2-core machine (measured "
        "in isolation: query embedding ~25 ms alone, ~60 ms inside `retrieve`). It shows the "
        "baseline without that self-inflicted cost.",
        "- *recall@10 vs exact*: the mean share of the exact top 10 (`exact=True`: brute "
        "force in both hybrid branches) that the HNSW search returns. Sparse (BM25) search is "
        "exact by construction.",
        "- *RSS MB* is the measuring process's resident set after its last timed mode "
        "(models, index, Python), *peak* its `ru_maxrss`; qdrant-edge maps its segment files, "
        "so touched index pages count in RSS. *index on disk MB* is the allocated size of the "
        "qdrant-edge directory; *open/load s* the time to open it (citewise) or to load the "
        "in-memory store (llama-index); *build s* the one-off cached citewise build (payload "
        "+ BM25 encoding, upserts, flush, optimize/HNSW).",
        "- The machine is shared (2 cores): latency tails move with other load, hence the load "
        "averages above. Rerun only the timing on a quiet machine with "
        "`.venv/bin/python bench/search_latency.py --measure-only`.",
        "- Raw numbers: `bench/out/search_latency.json` (git-ignored); child logs: "
        "`bench/out/search-latency/*.log`.",
    ]


def publish(report: dict[str, Any], *, write: bool) -> None:
    """Checks, table, JSON; with ``write``, RESULTS.md too."""
    report["checks"] = checks(report)
    write_json(OUT_JSON, report, indent=1)
    print()
    print(table(report))
    print()
    for line in [*check_lines(report), *cross_checks(report), *baseline_notes(report)]:
        print(line)
    if write:
        write_section(markdown_section(report))
        print(f"\nwrote {RESULTS_MD.relative_to(REPO)}")


def run_all(args: argparse.Namespace) -> None:
    """Corpus, indexes (cached), then one measuring child per (size, system)."""
    search_corpus.check_data(args.data)
    if max(args.sizes) > args.corpus_chunks:
        raise SystemExit(f"--sizes must be at most --corpus-chunks ({args.corpus_chunks})")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    corpus = ensure_corpus(args)
    steps["corpus"] = round(time.perf_counter() - started, 1)
    queries, warm, per_set = load_queries(args.data)
    report: dict[str, Any] = {
        **provenance(),
        "command": command_line("search_latency.py"),
        "note": args.note,
        "corpus_chunks": args.corpus_chunks,
        "corpus": corpus,
        "queries": {"count": len(queries), "per_set": per_set, "warm_up": len(warm)},
        "sizes": {},
        "steps_s": steps,
    }
    for size in sorted(args.sizes):
        entry: dict[str, Any] = {"builds": {}}
        if "citewise" in args.systems:
            t0 = time.perf_counter()
            entry["builds"]["citewise"] = ensure_built(size, args)
            steps[f"build citewise {size}"] = round(time.perf_counter() - t0, 1)
        for system in args.systems:
            t0 = time.perf_counter()
            task = "measure-citewise" if system == "citewise" else "measure-llamaindex"
            entry[system] = spawn(task, size, args, name=f"measure-{system}")
            steps[f"measure {system} {size}"] = round(time.perf_counter() - t0, 1)
        for baseline in BASELINES:
            if "citewise" in entry and baseline in entry:
                ours = entry["citewise"]["runs"]["dense exact"]["ids"]
                base = entry[baseline]
                picked = [ours[i] for i in base["measured_query_indexes"]]
                base["agreement_with_citewise_dense_exact"] = overlap_at_k(
                    base["runs"]["dense"]["ids"], picked
                )
        report["sizes"][str(size)] = entry
    steps["total"] = round(time.perf_counter() - started, 1)
    publish(report, write=args.write_results)
    print("steps (s):", json.dumps(steps))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--child``/``--size``/``--out`` are for the child processes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=search_corpus.DEFAULT_DATA,
        help="the shared data folder (default ../shared/data or $CITEWISE_SHARED_DATA)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=SYSTEMS,
        default=list(SYSTEMS),
        help="llamaindex-blas1: the baseline with OPENBLAS_NUM_THREADS=1 (see SYSTEM_ENV)",
    )
    parser.add_argument(
        "--corpus-chunks",
        type=int,
        default=search_corpus.DEFAULT_CHUNKS,
        help="size of the cached corpus; every index is a prefix of it",
    )
    parser.add_argument("--backend", default=None, help="our embedder backend (default: ours)")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="only time the searches, on the cached corpus and indexes (fails if missing)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached indexes")
    parser.add_argument(
        "--baseline-budget-s",
        type=float,
        default=300.0,
        help="cap the llama-index timed queries to about this many seconds per size (0: none)",
    )
    parser.add_argument("--baseline-min-queries", type=int, default=50)
    add_report_options(parser, "search_latency.json")
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the parent by default; one child task with ``--child``."""
    sys.path.insert(0, str(REPO))
    args = parse_args(argv)
    args.data = args.data.resolve()
    if args.backend is None:
        args.backend = search_corpus.default_backend()
    if args.child:
        for key, value in CHILD_ENV.items():
            os.environ.setdefault(key, value)
        result = CHILDREN[args.child](args, args.size)
        args.out.write_text(json.dumps(result) + "\n")
        return
    if args.report_only:
        if not OUT_JSON.exists():
            raise SystemExit(f"{OUT_JSON} does not exist; run the benchmark first")
        report = json.loads(OUT_JSON.read_text())
        if args.note:
            report["note"] = args.note
        publish(report, write=args.write_results)
        return
    run_all(args)


if __name__ == "__main__":
    main()
