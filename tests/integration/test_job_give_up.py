"""A job interrupted too often gives up without leaving its half-written version behind."""

from __future__ import annotations

import io

import pytest

from api import composition
from core.models import Acl, DocumentStatus, JobStatus, Principal
from core.settings import Settings
from ingest.job_runner import JobRunner
from ingest.job_store import JobStore
from ingest.unstructured_adapter.sniffing import sniff_extension
from ingest.upload_staging import LocalUploadStaging
from tests.conftest import SAMPLE_CORPUS
from tests.integration.conftest import CountingEmbedder

pytestmark = pytest.mark.model

ADMIN = Principal(user_id="admin", groups=("admins",))
SABBATICAL = "After 7 years of service employees may take a 6-week paid sabbatical."


class Killed(BaseException):
    """Stands for the process dying: nothing in the worker catches it."""


def _runner(settings: Settings, store: composition.Store, *, max_attempts: int) -> JobRunner:
    return JobRunner(
        jobs=_jobs(settings),
        pipeline=composition.build_pipeline(settings, store),
        writer=store.writer,
        registry=store.registry,
        staging=LocalUploadStaging(
            settings.data_dir / "uploads", max_bytes=10_000_000, sniff=sniff_extension
        ),
        default_acl=Acl(groups=("public",)),
        worker_id="worker-1",
        max_attempts=max_attempts,
    )


def _jobs(settings: Settings) -> JobStore:
    return JobStore(settings.registry_url)


def _upload(settings: Settings, store: composition.Store, text: str) -> str:
    with composition.open_document_service(settings, store, run_jobs=False) as (service, _):
        job = service.upload(io.BytesIO(text.encode()), "leave-policy.md", None, ADMIN)
    return job.doc_id


def test_a_job_that_gives_up_drops_its_pending_version_and_keeps_the_old_one(
    settings: Settings, counting: CountingEmbedder
) -> None:
    original = (SAMPLE_CORPUS / "policies" / "leave-policy.md").read_text()
    with composition.open_store(settings, embedder=counting) as store:
        doc_id = _upload(settings, store, original)
        assert _runner(settings, store, max_attempts=3).run_pending() == 1
        first = {c.chunk_id for c in store.index.get_chunks(doc_id)}
        assert first and store.registry.get(doc_id).status is DocumentStatus.INDEXED

    # The edited version is written, then the worker dies before the old chunks are deleted.
    with composition.open_store(settings, embedder=counting) as store:
        _upload(settings, store, original + f"\n## Sabbatical\n\n{SABBATICAL}\n")
        delete_document = store.index.delete_document

        def die_before_retiring_the_old_version(
            doc: str, *, keep_version: int | None = None
        ) -> None:
            if keep_version is not None:
                store.index.flush()
                raise Killed
            delete_document(doc, keep_version=keep_version)

        store.index.delete_document = die_before_retiring_the_old_version  # type: ignore[method-assign,assignment]
        with pytest.raises(Killed):
            _runner(settings, store, max_attempts=3).run_pending()

    with composition.open_store(settings, embedder=counting) as store:
        # Both versions are in the index now: the state a give-up must not leave behind.
        assert {c.version for c in store.index.get_chunks(doc_id)} == {1, 2}
        # The worker restarts with its tries used up.
        assert _jobs(settings).requeue_claimed("worker-1")
        assert _runner(settings, store, max_attempts=0).run_pending() == 1

        job = _jobs(settings).list_jobs(limit=1)[0]
        assert job.status is JobStatus.FAILED and "gave up" in (job.error or "")
        assert {c.chunk_id for c in store.index.get_chunks(doc_id)} == first
        document = store.registry.get(doc_id)
        assert document.status is DocumentStatus.FAILED and "gave up" in (document.error or "")
        assert document.chunk_count == len(first) == store.index.count(doc_id)
        assert store.registry.pending_version(doc_id) is None
        assert not any(SABBATICAL in c.text for c in store.index.get_chunks(doc_id))

        # The next upload of the edit indexes it cleanly.
        _upload(settings, store, original + f"\n## Sabbatical\n\n{SABBATICAL}\n")
        assert _runner(settings, store, max_attempts=3).run_pending() == 1
        chunks = store.index.get_chunks(doc_id)
        assert {c.version for c in chunks} == {2}
        assert any(SABBATICAL in c.text for c in chunks)
        assert store.registry.get(doc_id).status is DocumentStatus.INDEXED


def test_giving_up_on_a_document_never_written_leaves_nothing(
    settings: Settings, counting: CountingEmbedder
) -> None:
    with composition.open_store(settings, embedder=counting) as store:
        doc_id = _upload(settings, store, "# Fresh\n\nA new document that never lands.\n")
        assert _runner(settings, store, max_attempts=0).run_pending() == 1
        assert store.index.count(doc_id) == 0
        assert _jobs(settings).list_jobs(limit=1)[0].status is JobStatus.FAILED
