"""The composition root: the one place that builds and wires objects from settings.

It reads as three parts: ``indexing`` (embedders, the index, search, the registry and the
ingest pipeline), ``answering`` (the LLM, the support judges, the answer service) and
``serving`` (the API's stores, authentication, the document service, ``open_services``).
Callers use the package: ``from api import composition; composition.open_store(...)``.
"""

from api.composition.answering import (
    JUDGES,
    build_answer_service,
    build_generator,
    build_judge,
    build_support_judge,
    gguf_store_dir,
    support_judge_path,
)
from api.composition.auditing import build_audit_store, purge_expired, retention_cutoff
from api.composition.indexing import (
    IndexAdapter,
    Store,
    acl_policy,
    build_context_assembler,
    build_embedder,
    build_index,
    build_parser,
    build_pipeline,
    build_registry,
    build_searcher,
    build_sparse_encoder,
    corpus_ingest,
    corpus_reader,
    embedding_model_path,
    open_store,
    pipeline_id,
)
from api.composition.serving import (
    build_authenticator,
    build_feedback_store,
    build_key_store,
    build_review_store,
    open_document_service,
    open_services,
)

__all__ = [
    "JUDGES",
    "IndexAdapter",
    "Store",
    "acl_policy",
    "build_answer_service",
    "build_audit_store",
    "build_authenticator",
    "build_context_assembler",
    "build_embedder",
    "build_feedback_store",
    "build_generator",
    "build_index",
    "build_judge",
    "build_key_store",
    "build_parser",
    "build_pipeline",
    "build_registry",
    "build_review_store",
    "build_searcher",
    "build_sparse_encoder",
    "build_support_judge",
    "corpus_ingest",
    "corpus_reader",
    "embedding_model_path",
    "gguf_store_dir",
    "open_document_service",
    "open_services",
    "open_store",
    "pipeline_id",
    "purge_expired",
    "retention_cutoff",
    "support_judge_path",
]
