"""Deterministic identifiers, so that re-running an ingest rewrites the same points."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

# A fixed namespace: ids must be stable across machines and releases.
_NAMESPACE = uuid.UUID("5b4e8f0c-2a43-4c1b-9a7e-6f1f3c1d2e8a")
_HASH_BLOCK = 1 << 20


def document_id(source_uri: str) -> str:
    """Return the stable id of the document found at ``source_uri``."""
    return str(uuid.uuid5(_NAMESPACE, source_uri))


def chunk_id(doc_id: str, version: int, ordinal: int) -> str:
    """Return the id of chunk ``ordinal`` of ``version`` of a document (a UUID, as Qdrant needs)."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc_id}:{version}:{ordinal}"))


def file_sha256(path: Path) -> str:
    """Hash a file's bytes; the content hash that decides whether a document changed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
