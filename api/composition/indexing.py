"""The composition root, indexing: embedders, the index, search, the registry, the ingest
pipeline and what evaluations ingest and read corpora with."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from core.models import FileResult, IngestSummary
from core.settings import Settings
from core.tracing import NOOP_TRACER, Tracer
from ingest.acl_policy import AclPolicy
from ingest.document_parser import DocumentParser
from ingest.parse_limits import ParseLimits
from ingest.parser_pool import ParserPool
from ingest.pipeline import IngestPipeline
from ingest.registry import DocumentRegistry
from ingest.unstructured_adapter.chunking import ChunkingOptions, StructuredChunker
from ingest.unstructured_adapter.corpus_text import ParsedCorpusText
from ingest.unstructured_adapter.parser import UnstructuredParser
from ingest.writer import DocumentWriter
from retrieval.context import AssemblyOptions, ContextAssembler
from retrieval.cross_encoder import CrossEncoderReranker
from retrieval.embedder import (
    MINILM_DIMENSION,
    Embedder,
    SentenceTransformerEmbedder,
    shipped_minilm_path,
)
from retrieval.index import VectorIndex
from retrieval.onnx_embedder import OnnxEmbedder
from retrieval.onnx_export import quantized_model_path
from retrieval.qdrant_client_index import QdrantClientIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from retrieval.query import FusionMethod, SearchMode
from retrieval.search import RankingOptions, Searcher
from retrieval.tokens import HfTokenCounter

if TYPE_CHECKING:
    from evals.retrieval_eval import CorpusIngest


def embedding_model_path(settings: Settings) -> Path:
    """The configured model directory, or the shipped MiniLM."""
    return settings.embedding.model_path or shipped_minilm_path()


def build_parser(settings: Settings) -> DocumentParser:
    """The parser-chunker (also called inside worker processes, so it must stay picklable)."""
    tokens = HfTokenCounter(embedding_model_path(settings))
    chunking = settings.chunking
    options = ChunkingOptions(
        max_tokens=settings.embedding.max_tokens,
        max_characters=chunking.max_characters,
        new_after_n_chars=chunking.new_after_n_chars,
        combine_text_under_n_chars=chunking.combine_text_under_n_chars,
        overlap_tokens=chunking.overlap_tokens,
    )
    return UnstructuredParser(
        StructuredChunker(tokens, options),
        tokens,
        pdf_strategy=settings.parsing.pdf_strategy,
        ocr_fallback=settings.parsing.ocr_fallback,
        languages=settings.parsing.languages,
        limits=parse_limits(settings),
    )


def parse_limits(settings: Settings) -> ParseLimits:
    """What parsing one file may cost (``parsing.*`` limits)."""
    parsing = settings.parsing
    return ParseLimits(
        max_unzipped_bytes=int(parsing.max_unzipped_mb * 1_000_000),
        max_zip_ratio=parsing.max_zip_ratio,
        max_pdf_pages=parsing.max_pdf_pages,
        max_ocr_pages=parsing.max_ocr_pages,
        max_parse_s=parsing.max_parse_s,
        memory_bytes=parsing.parser_memory_mb * 1_000_000,
    )


def pipeline_id(settings: Settings) -> str:
    """A fingerprint of everything that shapes chunks and vectors: when it changes, documents
    are re-indexed even if their bytes did not."""
    shape = "|".join(
        [
            # v3: PDFs are read from their text layer (pikepdf installed) instead of by OCR;
            # v2: payload gained path_prefixes and modified_at for search filters
            "v3",
            embedding_model_path(settings).name,
            settings.embedding.backend,
            str(settings.index.bm25_avg_len),
            str(settings.embedding.max_tokens),
            settings.chunking.model_dump_json(),
            settings.parsing.model_dump_json(include={"pdf_strategy", "languages"}),
        ]
    )
    return hashlib.sha256(shape.encode()).hexdigest()[:16]


def build_embedder(settings: Settings) -> Embedder:
    """The dense embedder for the configured backend (loads lazily)."""
    model_dir = embedding_model_path(settings)
    if settings.embedding.backend == "onnx-int8":
        return OnnxEmbedder(
            model_dir,
            partial(quantized_model_path, model_dir, settings.onnx_cache_dir),
            batch_size=settings.embedding.batch_size,
            max_tokens=settings.embedding.max_tokens,
            threads=settings.embedding.threads,
        )
    return SentenceTransformerEmbedder(
        embedding_model_path(settings),
        batch_size=settings.embedding.batch_size,
        max_tokens=settings.embedding.max_tokens,
        threads=settings.embedding.threads,
    )


def build_sparse_encoder(settings: Settings) -> QdrantBm25Encoder:
    """Qdrant's BM25 encoder, with the configured length normalisation."""
    return QdrantBm25Encoder(avg_len=settings.index.bm25_avg_len)


def build_registry(settings: Settings) -> DocumentRegistry:
    """The document registry at the configured URL (creating the data directory for SQLite)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return DocumentRegistry(settings.registry_url)


IndexAdapter = QdrantEdgeIndex | QdrantClientIndex
"""The ``VectorIndex`` adapters, each with ``open()`` / ``close()`` and context-manager use."""


def build_index(settings: Settings) -> IndexAdapter:
    """The configured index (not yet opened): qdrant-edge in-process, or qdrant-client (a
    server at ``index.url``, or the client's local mode under ``<data_dir>/index-qdrant``)."""
    config = settings.index
    if config.backend == "qdrant":
        return QdrantClientIndex(
            location=config.url,
            path=settings.data_dir / "index-qdrant" if config.url is None else None,
            api_key=config.api_key,
            collection=config.collection,
            dimension=MINILM_DIMENSION,
            hnsw_m=config.hnsw_m,
            hnsw_ef_construct=config.hnsw_ef_construct,
        )
    return QdrantEdgeIndex(
        settings.index_path,
        dimension=MINILM_DIMENSION,
        hnsw_m=config.hnsw_m,
        hnsw_ef_construct=config.hnsw_ef_construct,
    )


def build_searcher(
    settings: Settings,
    index: VectorIndex,
    *,
    embedder: Embedder | None = None,
    tracer: Tracer = NOOP_TRACER,
) -> Searcher:
    """Hybrid search over an open index, ranked as the search settings say."""
    search = settings.search
    options = RankingOptions(
        mode=SearchMode(search.mode),
        fusion=FusionMethod(search.fusion),
        rrf_k=search.rrf_k,
        weights=(search.dense_weight, search.sparse_weight),
        prefetch_limit=search.prefetch_limit,
        hnsw_ef=search.hnsw_ef,
        k=search.k,
        rerank_depth=search.rerank_depth,
    )
    reranker = None
    if search.reranker == "cross-encoder":
        model_dir = search.reranker_path or settings.data_dir / "models" / "reranker"
        reranker = CrossEncoderReranker(model_dir, max_tokens=settings.embedding.max_tokens)
    return Searcher(
        index,
        embedder or build_embedder(settings),
        build_sparse_encoder(settings),
        options=options,
        reranker=reranker,
        tracer=tracer,
    )


def build_context_assembler(settings: Settings, index: VectorIndex) -> ContextAssembler:
    """Context assembly with the configured budget, counted with the embedding tokenizer
    (generation passes its own model's counter instead)."""
    options = AssemblyOptions(
        budget_tokens=settings.search.context_tokens, neighbours=settings.search.neighbours
    )
    return ContextAssembler(HfTokenCounter(embedding_model_path(settings)), index, options)


def acl_policy(settings: Settings, policy_file: Path | None) -> AclPolicy:
    """The policy from a file, else every document gets the configured default groups."""
    if policy_file is not None:
        return AclPolicy.from_file(policy_file)
    return AclPolicy.default_only(settings.acl.default_groups)


@dataclass
class Store:
    """The open registry and index, for commands that read or change documents."""

    registry: DocumentRegistry
    index: IndexAdapter
    writer: DocumentWriter


@contextmanager
def open_store(settings: Settings, *, embedder: Embedder | None = None) -> Iterator[Store]:
    """Open registry and index together and close both at the end.

    ``embedder`` lets a long-lived caller share one loaded model across stores.
    """
    registry = build_registry(settings)
    try:
        index = build_index(settings).open()
    except BaseException:
        registry.close()
        raise
    try:
        writer = DocumentWriter(
            registry=registry,
            index=index,
            embedder=embedder or build_embedder(settings),
            sparse=build_sparse_encoder(settings),
        )
        yield Store(registry, index, writer)
    finally:
        index.close()
        registry.close()


def build_pipeline(
    settings: Settings,
    store: Store,
    *,
    pool: ParserPool | None = None,
    tracer: Tracer = NOOP_TRACER,
) -> IngestPipeline:
    """The ingestion pipeline over an open store (parsing in ``pool``, or a pool of its own)."""
    if pool is None:
        pool = ParserPool(
            partial(build_parser, settings),
            workers=settings.ingest.workers,
            limits=parse_limits(settings),
        )
    return IngestPipeline(
        registry=store.registry,
        writer=store.writer,
        pool=pool,
        pipeline_id=pipeline_id(settings),
        tenant=settings.tenant,
        embed_group=settings.ingest.embed_group,
        max_file_bytes=int(settings.parsing.max_file_mb * 1_000_000),
        tracer=tracer,
    )


def corpus_ingest(pipeline: IngestPipeline) -> CorpusIngest:
    """An evaluation's ingest step over ``pipeline``: a folder, every file readable by the
    given groups, documents whose file is gone pruned (``evals.retrieval_eval.CorpusIngest``)."""

    def ingest(
        folder: Path,
        groups: tuple[str, ...],
        *,
        on_total: Callable[[int], None],
        on_result: Callable[[FileResult], None],
    ) -> IngestSummary:
        return pipeline.run(
            [folder],
            policy=AclPolicy.default_only(groups),
            prune=True,
            on_total=on_total,
            on_result=on_result,
        )

    return ingest


def corpus_reader() -> ParsedCorpusText:
    """The ingest parser's view of a corpus, for verifying question sets against it."""
    return ParsedCorpusText()
