"""The composition root: the one place that builds and wires objects from settings."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from api.http.auth import Authenticator
from api.http.dependencies import Services
from api.http.oidc import BearerAuthenticator, JwtAuthenticator
from core.errors import ConfigError
from core.models import Acl, FileResult, IngestSummary
from core.settings import Settings
from generation.abstention import AbstentionPolicy
from generation.answer import AnswerOptions, AnswerService
from generation.cross_encoder_judge import CrossEncoderJudge, trained_judge_exists
from generation.finalize import AnswerChecker, CheckOptions
from generation.generator import Generator
from generation.grounding import LexicalEmbeddingJudge, SupportJudge
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.llm_judge import LlmJudge
from generation.model_store import ProgressCallback, resolve_model_path
from generation.models import Answer
from ingest.acl_policy import AclPolicy
from ingest.document_service import DocumentService
from ingest.job_runner import JobRunner
from ingest.job_store import JobStore
from ingest.pipeline import IngestPipeline
from ingest.processing import DocumentProcessor
from ingest.registry import DocumentRegistry
from ingest.unstructured_adapter.chunking import ChunkingOptions, StructuredChunker
from ingest.unstructured_adapter.corpus_text import ParsedCorpusText
from ingest.unstructured_adapter.processor import UnstructuredProcessor
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import UploadStaging
from ingest.workers import ProcessorPool
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
from retrieval.memo_embedder import MemoEmbedder
from retrieval.onnx_embedder import OnnxEmbedder
from retrieval.onnx_export import quantized_model_path
from retrieval.qdrant_client_index import QdrantServerIndex
from retrieval.qdrant_edge_bm25 import QdrantBm25Encoder
from retrieval.qdrant_edge_index import QdrantEdgeIndex
from retrieval.query import FusionMethod, SearchMode
from retrieval.search import RankingOptions, Searcher
from retrieval.selection import SimilaritySelector
from retrieval.tokens import HfTokenCounter
from store.feedback_store import FeedbackStore
from store.key_store import ApiKeyStore
from store.review_store import ReviewStore

if TYPE_CHECKING:
    from evals.retrieval_eval import CorpusIngest


def embedding_model_path(settings: Settings) -> Path:
    """The configured model directory, or the shipped MiniLM."""
    return settings.embedding.model_path or shipped_minilm_path()


def build_processor(settings: Settings) -> DocumentProcessor:
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
    return UnstructuredProcessor(
        StructuredChunker(tokens, options),
        tokens,
        pdf_strategy=settings.parsing.pdf_strategy,
        ocr_fallback=settings.parsing.ocr_fallback,
        languages=settings.parsing.languages,
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
            partial(quantized_model_path, model_dir, settings.model_cache_dir),
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


IndexAdapter = QdrantEdgeIndex | QdrantServerIndex
"""The ``VectorIndex`` adapters, each with ``open()`` / ``close()`` and context-manager use."""


def build_index(settings: Settings) -> IndexAdapter:
    """The configured index (not yet opened): qdrant-edge in-process, or qdrant-client (a
    server at ``index.url``, or the client's local mode under ``<data_dir>/index-qdrant``)."""
    config = settings.index
    if config.backend == "qdrant":
        return QdrantServerIndex(
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
    settings: Settings, index: VectorIndex, *, embedder: Embedder | None = None
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
    settings: Settings, store: Store, *, pool: ProcessorPool | None = None
) -> IngestPipeline:
    """The ingestion pipeline over an open store (parsing in ``pool``, or a pool of its own)."""
    if pool is None:
        pool = ProcessorPool(partial(build_processor, settings), workers=settings.ingest.workers)
    return IngestPipeline(
        registry=store.registry,
        writer=store.writer,
        pool=pool,
        pipeline_id=pipeline_id(settings),
        tenant=settings.tenant,
        embed_group=settings.ingest.embed_group,
        max_file_bytes=int(settings.parsing.max_file_mb * 1_000_000),
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


def model_cache_dir(settings: Settings) -> Path:
    """Where assembled GGUF models are cached: ``<data_dir>/models``."""
    return settings.data_dir / "models"


def build_generator(settings: Settings, progress: ProgressCallback | None = None) -> Generator:
    """The configured LLM: llama.cpp in-process (assembling a shipped model on first use), or
    an OpenAI-compatible server such as vLLM."""
    llm = settings.llm
    if llm.backend == "openai":
        from generation.openai_generator import OpenAICompatibleGenerator

        if not llm.base_url:
            raise ConfigError("llm.backend is openai but llm.base_url is not set")
        return OpenAICompatibleGenerator(
            llm.base_url,
            llm.model,
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            timeout_s=llm.timeout_s,
            max_retries=llm.max_retries,
            context_window=llm.server_context_window,
        )
    path = resolve_model_path(llm.model, model_cache_dir(settings), progress)
    return LlamaCppGenerator(path, context_window=llm.context_window, threads=llm.threads)


def support_judge_path(settings: Settings) -> Path:
    """Where the trained support judge lives: ``answer.judge_path`` or
    ``<data_dir>/models/support-judge``."""
    return settings.answer.judge_path or settings.data_dir / "models" / "support-judge"


JUDGES = ("lexical", "cross-encoder", "llm")
"""The support judges ``build_judge`` knows."""


def build_judge(
    name: str,
    settings: Settings,
    embedder: Embedder,
    *,
    generator: Generator | None = None,
    path: Path | None = None,
    require_trained: bool = False,
    as_configured: bool = False,
) -> SupportJudge:
    """The support judge called ``name``: ``lexical`` (the embedding/word-overlap judge),
    ``cross-encoder`` (the judge trained by ``citewise eval train-judge``, at ``path`` or
    ``support_judge_path``; it loads lazily, and ``require_trained`` fails now, saying how to
    train one, when there is none) or ``llm`` (``generator`` with constrained JSON verdicts).

    ``as_configured`` gives the lexical judge the answer settings' threshold and subject
    check (the answer path's judge); otherwise it runs at its defaults, as evaluations
    measure it. ConfigError for an unknown name or an ``llm`` judge without a generator."""
    if name == "lexical":
        if as_configured:
            return LexicalEmbeddingJudge(
                embedder,
                support_threshold=settings.answer.support_threshold,
                check_subject=settings.answer.subject_check,
            )
        return LexicalEmbeddingJudge(embedder)
    if name == "cross-encoder":
        path = path or support_judge_path(settings)
        if require_trained and not trained_judge_exists(path):
            raise ConfigError(
                f"no trained support judge at {path}: run `citewise eval train-judge` "
                "(or set answer.judge_path)"
            )
        return CrossEncoderJudge(path, embedder)
    if name == "llm":
        if generator is None:
            raise ConfigError("the llm judge needs a generator")
        return LlmJudge(generator)
    raise ConfigError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")


def build_support_judge(settings: Settings, embedder: Embedder) -> SupportJudge:
    """The grounding check's judge: the trained cross-encoder when configured, or under
    ``auto`` when one has been trained; else the lexical/embedding judge as configured."""
    choice = settings.answer.judge
    trained = choice == "auto" and trained_judge_exists(support_judge_path(settings))
    # A missing model under "cross-encoder" fails on first use, saying how to train one.
    name = "cross-encoder" if choice == "cross-encoder" or trained else "lexical"
    return build_judge(name, settings, embedder, as_configured=True)


def build_answer_service(
    settings: Settings,
    index: VectorIndex,
    *,
    generator: Generator | None = None,
    embedder: Embedder | None = None,
) -> AnswerService:
    """The answer path over an open index; ``generator`` and ``embedder`` let a long-lived
    caller (the API, evals) share loaded models."""
    embedder = embedder or build_embedder(settings)
    # The check embeds the same source sentences in several passes: memoise them.
    checking = MemoEmbedder(embedder)
    answer = settings.answer
    policy = AbstentionPolicy(
        min_retrieval_similarity=answer.min_retrieval_similarity,
        min_support_score=answer.min_support_score,
        closest_sources=answer.closest_sources,
    )
    checker = AnswerChecker(
        build_support_judge(settings, checking),
        policy=policy,
        options=CheckOptions(
            withhold=answer.unsupported == "withhold",
            attribute_uncited=answer.attribute_uncited,
            min_relevance=answer.min_relevance,
            quote_min_relevance=answer.quote_min_relevance,
        ),
        embedder=checking,
    )
    return AnswerService(
        build_searcher(settings, index, embedder=embedder),
        generator or build_generator(settings),
        checker,
        assembly=AssemblyOptions(
            budget_tokens=settings.search.context_tokens, neighbours=settings.search.neighbours
        ),
        policy=policy,
        options=AnswerOptions(
            k=settings.search.k,
            max_answer_tokens=settings.llm.max_answer_tokens,
            temperature=settings.llm.temperature,
            condense_history=answer.condense_history,
        ),
        selector=(
            SimilaritySelector(embedder, margin=answer.passage_margin)
            if answer.passage_margin is not None
            else None
        ),
    )


def build_key_store(settings: Settings) -> ApiKeyStore:
    """API keys, in the registry's database (creating the data directory for SQLite)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ApiKeyStore(settings.registry_url)


def build_authenticator(settings: Settings, keys: Authenticator) -> Authenticator:
    """Bearer tokens: API keys from ``keys``, plus JWTs from the configured OIDC issuer when
    ``api.oidc.issuer`` is set (ConfigError for an unusable ``jwks_file``)."""
    oidc = settings.api.oidc
    jwts = JwtAuthenticator(oidc, default_tenant=settings.tenant) if oidc.enabled else None
    return BearerAuthenticator(keys, jwts)


def build_feedback_store(settings: Settings) -> FeedbackStore:
    """Answer feedback, in the registry's database (creating the data directory for SQLite)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return FeedbackStore(settings.registry_url)


def build_review_store(settings: Settings) -> ReviewStore[Answer]:
    """The answer log and review queue, in the registry's database (beside the feedback)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ReviewStore(settings.registry_url, Answer.model_validate_json)


@contextmanager
def open_document_service(
    settings: Settings, store: Store, *, run_jobs: bool | None = None
) -> Iterator[tuple[DocumentService, JobRunner | None]]:
    """The document endpoints' service over an open store, and (with ``run_jobs``, default
    ``api.run_jobs``) the job runner that applies uploads and deletes in this process, started
    and later stopped."""
    with ExitStack() as stack:
        jobs = stack.enter_context(closing(JobStore(settings.registry_url)))
        staging = UploadStaging(
            settings.data_dir / "uploads",
            max_bytes=int(settings.api.max_upload_mb * 1_000_000),
            sniff=sniff_extension,
        )
        runner = None
        if settings.api.run_jobs if run_jobs is None else run_jobs:
            # Parser processes stay up between jobs: uploads arrive one at a time.
            pool = ProcessorPool(
                partial(build_processor, settings),
                workers=settings.ingest.workers,
                keep_alive=True,
            )
            stack.callback(pool.close)
            runner = JobRunner(
                jobs=jobs,
                pipeline=build_pipeline(settings, store, pool=pool),
                writer=store.writer,
                registry=store.registry,
                staging=staging,
                default_acl=Acl(groups=settings.acl.default_groups),
                worker_id=settings.ingest.worker_id or socket.gethostname(),
                max_attempts=settings.ingest.max_job_attempts,
            )
            runner.start()
            stack.callback(runner.stop)
        service = DocumentService(
            registry=store.registry,
            jobs=jobs,
            staging=staging,
            writer=store.writer,
            runner=runner,
        )
        yield service, runner


@contextmanager
def open_services(settings: Settings) -> Iterator[Services]:
    """Everything the HTTP API serves with, open and warmed for the app's lifetime: the store,
    the searcher and answer service sharing one embedder, the API-key and feedback stores, and
    the document service with its job runner."""
    embedder = build_embedder(settings)
    generator = build_generator(settings)
    with ExitStack() as stack:
        keys = stack.enter_context(closing(build_key_store(settings)))
        feedback = stack.enter_context(closing(build_feedback_store(settings)))
        reviews = stack.enter_context(closing(build_review_store(settings)))
        store = stack.enter_context(open_store(settings, embedder=embedder))
        answers = build_answer_service(
            settings, store.index, generator=generator, embedder=embedder
        )
        answers.warm_up()
        documents, runner = stack.enter_context(open_document_service(settings, store))
        yield Services(
            searcher=build_searcher(settings, store.index, embedder=embedder),
            answers=answers,
            authenticator=build_authenticator(settings, keys),
            feedback=feedback,
            documents=documents,
            job_runner=runner,
            reviews=reviews,
        )
