"""The composition root, auditing: the audit log store and its retention purge."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from core.errors import CitewiseError
from core.logging import fields
from core.settings import Settings
from store.audit_store import AuditStore

_log = logging.getLogger(__name__)


def build_audit_store(settings: Settings) -> AuditStore:
    """The audit log, in the registry's database (creating the data directory for SQLite)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return AuditStore(settings.registry_url, store_questions=settings.audit.store_questions)


def retention_cutoff(settings: Settings, now: datetime | None = None) -> datetime | None:
    """Rows recorded before this are past ``audit.retention_days`` (None: kept forever)."""
    days = settings.audit.retention_days
    if days is None:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=days)


def purge_expired(settings: Settings, store: AuditStore) -> int:
    """Delete the audit rows past the retention period; how many."""
    cutoff = retention_cutoff(settings)
    return 0 if cutoff is None else store.purge(cutoff)


@contextmanager
def periodic_purge(settings: Settings, store: AuditStore) -> Iterator[None]:
    """Purge expired audit rows now and every ``audit.purge_interval_h`` in a daemon thread,
    until the block ends (nothing when retention is off)."""
    if settings.audit.retention_days is None:
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                purged = purge_expired(settings, store)
                if purged:
                    _log.info("audit rows purged", extra=fields(rows=purged))
            except CitewiseError as e:  # the database is away: try again next time
                _log.error("audit purge failed", extra=fields(error=e.message))
            if stop.wait(settings.audit.purge_interval_h * 3600):
                return

    thread = threading.Thread(target=loop, name="audit-purge", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
