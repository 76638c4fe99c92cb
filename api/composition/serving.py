"""The composition root, serving: the API's stores, authentication, the document service and
everything the HTTP API serves with."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from functools import partial

from api.composition.answering import build_answer_service, build_generator
from api.composition.auditing import build_audit_store, periodic_purge
from api.composition.indexing import (
    Store,
    build_embedder,
    build_parser,
    build_pipeline,
    build_searcher,
    open_store,
    parse_limits,
)
from api.http.auth import Authenticator
from api.http.dependencies import Services
from api.http.oidc import BearerAuthenticator, JwtAuthenticator
from core.models import Acl
from core.settings import Settings
from core.tracing import NOOP_TRACER, Tracer
from generation.answer_types import Answer
from ingest.document_service import DocumentService
from ingest.job_runner import JobRunner
from ingest.job_store import JobStore
from ingest.parser_pool import ParserPool
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import LocalUploadStaging
from store.feedback_store import FeedbackStore
from store.key_store import ApiKeyStore
from store.review_store import ReviewStore


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
    settings: Settings,
    store: Store,
    *,
    run_jobs: bool | None = None,
    tracer: Tracer = NOOP_TRACER,
) -> Iterator[tuple[DocumentService, JobRunner | None]]:
    """The document endpoints' service over an open store, and (with ``run_jobs``, default
    ``api.run_jobs``) the job runner that applies uploads and deletes in this process, started
    and later stopped; ``tracer`` times its jobs."""
    with ExitStack() as stack:
        jobs = stack.enter_context(closing(JobStore(settings.registry_url)))
        staging = LocalUploadStaging(
            settings.ingest.staging_dir or settings.data_dir / "uploads",
            max_bytes=int(settings.api.max_upload_mb * 1_000_000),
            sniff=sniff_extension,
        )
        runner = None
        if settings.api.run_jobs if run_jobs is None else run_jobs:
            # Parser processes stay up between jobs: uploads arrive one at a time.
            pool = ParserPool(
                partial(build_parser, settings),
                workers=settings.ingest.workers,
                keep_alive=True,
                limits=parse_limits(settings),
            )
            stack.callback(pool.close)
            runner = JobRunner(
                jobs=jobs,
                pipeline=build_pipeline(settings, store, pool=pool, tracer=tracer),
                writer=store.writer,
                registry=store.registry,
                staging=staging,
                default_acl=Acl(groups=settings.acl.default_groups),
                worker_id=settings.ingest.worker_id or socket.gethostname(),
                max_attempts=settings.ingest.max_job_attempts,
                poll_s=settings.ingest.job_poll_s,
                lease_s=settings.ingest.job_lease_s,
                tracer=tracer,
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
def open_services(settings: Settings, *, tracer: Tracer = NOOP_TRACER) -> Iterator[Services]:
    """Everything the HTTP API serves with, open and warmed for the app's lifetime: the store,
    the searcher and answer service sharing one embedder, the API-key and feedback stores, the
    audit log (purged as ``audit.retention_days`` says), and the document service with its job
    runner. ``tracer`` (``api/composition/telemetry.py``) times questions and jobs."""
    embedder = build_embedder(settings)
    generator = build_generator(settings)
    with ExitStack() as stack:
        keys = stack.enter_context(closing(build_key_store(settings)))
        feedback = stack.enter_context(closing(build_feedback_store(settings)))
        reviews = stack.enter_context(closing(build_review_store(settings)))
        audit = None
        if settings.audit.enabled:
            audit = stack.enter_context(closing(build_audit_store(settings)))
            stack.enter_context(periodic_purge(settings, audit))
        store = stack.enter_context(open_store(settings, embedder=embedder))
        answers = build_answer_service(
            settings, store.index, generator=generator, embedder=embedder, tracer=tracer
        )
        answers.warm_up()
        documents, runner = stack.enter_context(
            open_document_service(settings, store, tracer=tracer)
        )
        yield Services(
            searcher=build_searcher(settings, store.index, embedder=embedder, tracer=tracer),
            answers=answers,
            authenticator=build_authenticator(settings, keys),
            feedback=feedback,
            documents=documents,
            job_runner=runner,
            reviews=reviews,
            audit=audit,
        )
