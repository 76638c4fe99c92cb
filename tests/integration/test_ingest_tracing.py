"""Traces of an ingestion job: an upload run by the job runner (the real parser, MiniLM,
qdrant-edge, SQLite) makes an ``ingest.job`` span with ``parse``, ``chunk``, ``embed`` and
``write`` inside, and no document text in any attribute (the SDK's in-memory exporter)."""

from __future__ import annotations

import io
import time

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api import composition
from api.composition.telemetry import open_telemetry
from core.models import Acl, IngestOutcome, JobStatus, Principal
from core.settings import Settings
from retrieval.embedder import Embedder

pytestmark = [pytest.mark.model, pytest.mark.slow]

TEXT = (
    "# Parental leave\n\nEmployees who become parents may take sixteen weeks of paid parental "
    "leave within the first year after the birth or adoption of a child.\n"
)
ADMIN = Principal(user_id="root", groups=("admins",))


def test_an_upload_job_is_traced_stage_by_stage(
    settings: Settings, real_embedder: Embedder
) -> None:
    exporter = InMemorySpanExporter()
    with (
        open_telemetry(settings, exporter=exporter) as telemetry,
        composition.open_store(settings, embedder=real_embedder) as store,
        composition.open_document_service(
            settings, store, run_jobs=True, tracer=telemetry.tracer
        ) as (service, _),
    ):
        job = service.upload(
            io.BytesIO(TEXT.encode()), "parental-leave.md", Acl(groups=("public",)), ADMIN
        )
        deadline = time.monotonic() + 120
        while not (done := service.job(job.job_id, ADMIN, admin=True)).status.is_final:
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.2)
    assert done.status is JobStatus.DONE and done.outcome is IngestOutcome.ADDED
    spans = list(exporter.get_finished_spans())
    (root,) = [s for s in spans if s.name == "ingest.job"]
    assert root.attributes is not None
    assert (root.attributes["job.kind"], root.attributes["document.id"]) == ("upload", job.doc_id)
    stages = {s.name: s for s in spans if s.parent and s.parent.span_id == root.context.span_id}
    assert set(stages) == {"parse", "chunk", "embed", "write"}
    order = sorted(stages.values(), key=lambda s: s.start_time or 0)
    assert [s.name for s in order] == ["parse", "chunk", "embed", "write"]
    for span in order:
        assert span.start_time is not None and root.start_time is not None
        assert span.end_time is not None and root.end_time is not None
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time
    chunks = (stages["chunk"].attributes or {})["chunk.count"]
    assert isinstance(chunks, int) and chunks >= 1
    assert (stages["write"].attributes or {})["chunk.count"] == chunks
    for span in spans:
        for value in (span.attributes or {}).values():
            assert not (isinstance(value, str) and ("sixteen weeks" in value or "leave" in value))
