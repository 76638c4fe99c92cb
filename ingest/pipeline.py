"""The ingestion pipeline: keep the index and the registry in sync with a set of folders.

Per document: unchanged content is skipped (0 embeddings); a new version is written before
the old one is deleted; the registry marks a version indexed only after both. Any crash is
repaired by the next run: a pending version is rewritten under the same ids, and chunks of
documents the registry does not know are swept.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import DocumentError
from core.ids import document_id, file_sha256
from core.logging import fields
from core.models import Acl, DocumentStatus, FileResult, IngestOutcome, IngestSummary
from core.tracing import NOOP_TRACER, Tracer
from ingest.acl_policy import AclPolicy
from ingest.document_parser import ParsedDocument
from ingest.formats import file_type
from ingest.parser_pool import ParserPool
from ingest.registry import DocumentRegistry
from ingest.sources import SourceFile, discover, root_uri_prefix
from ingest.writer import DocumentVersion, DocumentWriter

log = logging.getLogger(__name__)

ProgressCallback = Callable[[FileResult], None]


@dataclass(frozen=True)
class _Job:
    source: SourceFile
    doc_id: str
    content_hash: str
    acl: Acl
    is_new: bool
    modified_at: datetime


class IngestPipeline:
    """Ingests folders of documents into the registry and the vector index."""

    def __init__(
        self,
        *,
        registry: DocumentRegistry,
        writer: DocumentWriter,
        pool: ParserPool,
        pipeline_id: str,
        tenant: str | None = None,
        embed_group: int = 256,
        max_file_bytes: int | None = None,
        tracer: Tracer = NOOP_TRACER,
    ) -> None:
        self._registry = registry
        self._tracer = tracer
        self._writer = writer
        self._pool = pool
        self._pipeline_id = pipeline_id
        self._tenant = tenant
        self._embed_group = embed_group
        self._max_file_bytes = max_file_bytes

    def warm_up(self) -> None:
        """Start the parser workers and load the embedding model before timing-critical work."""
        self._pool.start()
        self._writer.warm_up()

    def run(
        self,
        paths: Sequence[Path],
        *,
        policy: AclPolicy,
        prune: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_result: ProgressCallback | None = None,
    ) -> IngestSummary:
        """Ingest every supported file under ``paths``; with ``prune``, purge vanished ones."""
        started = time.perf_counter()
        found = discover(paths)
        results: list[FileResult] = []
        tokens = Counter[str]()

        def emit(result: FileResult) -> None:
            results.append(result)
            if on_result:
                on_result(result)

        if on_total:
            on_total(len(found.files))
        self._finish_interrupted_deletes()
        jobs = list(self._plan(found.files, lambda f: policy.acl_for(f.relative_path), emit))
        self._process(jobs, emit, tokens)
        if prune:
            seen = {document_id(f.source_uri) for f in found.files}
            for path in paths:
                if path.resolve().is_dir():
                    self._prune(root_uri_prefix(path), seen, emit)
        self._writer.sweep_orphans(self._registry.document_ids())
        if any(r.outcome in (IngestOutcome.ADDED, IngestOutcome.UPDATED) for r in results):
            self._writer.optimize()
        counts = Counter(r.outcome for r in results)
        return IngestSummary(
            added=counts[IngestOutcome.ADDED],
            updated=counts[IngestOutcome.UPDATED],
            unchanged=counts[IngestOutcome.UNCHANGED],
            deleted=counts[IngestOutcome.DELETED],
            skipped=counts[IngestOutcome.SKIPPED],
            failed=counts[IngestOutcome.FAILED],
            chunks=sum(r.chunks for r in results if r.outcome is not IngestOutcome.UNCHANGED),
            unsupported=len(found.unsupported),
            source_tokens=tokens["source"],
            embedded_tokens=tokens["embedded"],
            seconds=round(time.perf_counter() - started, 3),
            files=tuple(results),
        )

    def ingest_file(self, source: SourceFile, acl: Acl) -> FileResult:
        """Ingest one file under its own source URI (an upload) with the same sync rules as a
        folder run: unchanged content only has its ACL refreshed, a change is re-indexed."""
        results: list[FileResult] = []
        jobs = list(self._plan([source], lambda _: acl, results.append))
        self._process(jobs, results.append, Counter())
        if results[0].outcome in (IngestOutcome.ADDED, IngestOutcome.UPDATED):
            self._writer.optimize()
        return results[0]

    def _plan(
        self,
        files: Sequence[SourceFile],
        acl_for: Callable[[SourceFile], Acl],
        emit: ProgressCallback,
    ) -> Iterator[_Job]:
        """Decide per file: skip it, refresh only its ACL, or (re)index it."""
        for source in files:
            doc_id = document_id(source.source_uri)
            acl = acl_for(source)
            state = self._registry.state(doc_id)
            stat = source.path.stat()
            if stat.st_size == 0:
                if state is not None:
                    self._writer.purge(doc_id)
                emit(
                    FileResult(
                        source_uri=source.source_uri,
                        outcome=IngestOutcome.SKIPPED,
                        error="empty file (0 bytes)",
                    )
                )
                continue
            if self._max_file_bytes is not None and stat.st_size > self._max_file_bytes:
                # Refused before hashing or parsing: one huge export must not stall a batch
                # (or exhaust a parser's memory). An earlier version stays searchable.
                reason = (
                    f"file is {stat.st_size / 1e6:.3g} MB, over the {self._max_file_bytes / 1e6:g}"
                    " MB limit (parsing.max_file_mb)"
                )
                self._record_failure(doc_id, source, reason, emit)
                continue
            content_hash = file_sha256(source.path)
            if state is not None and state.is_current(content_hash, self._pipeline_id):
                if state.acl != acl:
                    self._writer.set_acl(doc_id, acl)
                emit(FileResult(source_uri=source.source_uri, outcome=IngestOutcome.UNCHANGED))
                continue
            is_new = state is None or state.version == 0
            modified_at = datetime.fromtimestamp(stat.st_mtime, UTC)
            yield _Job(source, doc_id, content_hash, acl, is_new, modified_at)

    def _process(self, jobs: Sequence[_Job], emit: ProgressCallback, tokens: Counter[str]) -> None:
        """Parse in worker processes, embed in groups, write each document."""
        group: list[tuple[_Job, ParsedDocument]] = []
        outcomes = iter(self._pool.map(j.source.path for j in jobs))
        if jobs:
            self._writer.warm_up()  # load the model while the parser workers start
        for job in jobs:
            # The parser process parses and chunks; "parse" spans the wait for its result.
            with self._tracer.span("parse", **{"document.id": job.doc_id}) as span:
                outcome = next(outcomes)
                span.set("document.failed", isinstance(outcome, DocumentError))
            if isinstance(outcome, DocumentError):
                self._fail(job, outcome.message, emit)
                continue
            with self._tracer.span("chunk", **{"document.id": job.doc_id}) as span:
                span.set("document.file_type", outcome.file_type)
                span.set("chunk.count", len(outcome.passages))
                span.set("tokens.source", outcome.source_tokens)
                span.set("tokens.embedded", sum(p.token_count for p in outcome.passages))
            tokens["source"] += outcome.source_tokens
            tokens["embedded"] += sum(p.token_count for p in outcome.passages)
            group.append((job, outcome))
            # Embedding many documents per call lets sentence-transformers batch by length.
            if sum(len(doc.passages) for _, doc in group) >= self._embed_group:
                self._write_group(group, emit)
                group = []
        self._write_group(group, emit)

    def _write_group(
        self, group: list[tuple[_Job, ParsedDocument]], emit: ProgressCallback
    ) -> None:
        if not group:
            return
        passages = sum(len(doc.passages) for _, doc in group)
        with self._tracer.span("embed", **{"document.count": len(group)}) as span:
            span.set("chunk.count", passages)
            vectors = self._writer.embed([doc for _, doc in group])
        versions = [
            DocumentVersion(
                doc_id=job.doc_id,
                source_uri=job.source.source_uri,
                content_hash=job.content_hash,
                pipeline_id=self._pipeline_id,
                acl=job.acl,
                tenant=self._tenant,
                document=doc,
                dense=dense,
                sparse=sparse,
                modified_at=job.modified_at,
            )
            for (job, doc), (dense, sparse) in zip(group, vectors, strict=True)
        ]
        with self._tracer.span("write", **{"document.count": len(group)}) as span:
            counts = self._writer.write(versions)
            span.set("chunk.count", sum(counts))
        for (job, _), chunk_count in zip(group, counts, strict=True):
            outcome = IngestOutcome.ADDED if job.is_new else IngestOutcome.UPDATED
            emit(FileResult(source_uri=job.source.source_uri, outcome=outcome, chunks=chunk_count))

    def _fail(self, job: _Job, reason: str, emit: ProgressCallback) -> None:
        self._record_failure(job.doc_id, job.source, reason, emit)

    def _record_failure(
        self, doc_id: str, source: SourceFile, reason: str, emit: ProgressCallback
    ) -> None:
        log.warning("ingest failed", extra=fields(uri=source.source_uri, reason=reason))
        self._registry.mark_failed(
            doc_id, source.source_uri, reason, file_type=file_type(source.path)
        )
        emit(FileResult(source_uri=source.source_uri, outcome=IngestOutcome.FAILED, error=reason))

    def _prune(self, uri_prefix: str, seen: set[str], emit: ProgressCallback) -> None:
        for document in self._registry.list_documents(uri_prefix=uri_prefix):
            if document.doc_id not in seen:
                self._writer.purge(document.doc_id)
                emit(
                    FileResult(
                        source_uri=document.source_uri,
                        outcome=IngestOutcome.DELETED,
                        chunks=document.chunk_count,
                    )
                )

    def _finish_interrupted_deletes(self) -> None:
        for document in self._registry.list_documents():
            if document.status is DocumentStatus.DELETING:
                self._writer.purge(document.doc_id)
