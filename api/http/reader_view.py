"""What a response shows of where a source lives, by who asks.

Source URIs of ingested files are ``file://`` URIs of the server's disk, and a document's
content hash fingerprints its bytes; neither is a reader's business. Admins (members of
``api.admin_group``) see both as stored. Everyone else sees a display path: a file's path
relative to the configured folder that holds it (``api.display_roots``; outside them, its
name only), an upload's name, no content hash. Raw model text (``model_text``) is shown only
to an admin who asks for it (``debug``), never by default.

Every route that returns a ``source_uri`` (documents, search, ask, chat completions) passes
its result through a ``ReaderView``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from core.models import Document, Principal
from core.settings import Settings
from generation.answer_types import Answer
from ingest.upload_staging import UPLOAD_URI_PREFIX


class DocumentView(Document):
    """A document as the caller may see it: ``content_hash`` is null for readers who are not
    admins, and ``source_uri`` is their display path."""

    content_hash: str | None = None  # type: ignore[assignment]  # hidden from readers


def display_path(source_uri: str, roots: Sequence[Path]) -> str:
    """A source's display path: an upload's name, a file's path under the deepest of
    ``roots`` that holds it (else its name); other URIs unchanged."""
    if source_uri.startswith(UPLOAD_URI_PREFIX):
        return unquote(source_uri[len(UPLOAD_URI_PREFIX) :])
    parsed = urlparse(source_uri)
    if parsed.scheme != "file":
        return source_uri
    path = PurePosixPath(url2pathname(parsed.path))
    for root in sorted(roots, key=lambda r: len(r.parts), reverse=True):
        base = PurePosixPath(root.as_posix())
        if path.is_relative_to(base) and path != base:
            return path.relative_to(base).as_posix()
    return path.name


@dataclass(frozen=True)
class ReaderView:
    """The caller's view of sources: full for admins, display paths for everyone else."""

    admin: bool
    roots: tuple[Path, ...] = ()

    @classmethod
    def of(cls, settings: Settings, caller: Principal) -> ReaderView:
        """The view for ``caller`` under ``settings``."""
        roots = tuple(root.expanduser().resolve() for root in settings.api.display_roots)
        return cls(admin=settings.api.admin_group in caller.groups, roots=roots)

    def uri(self, source_uri: str) -> str:
        """What the caller is shown for ``source_uri``."""
        return source_uri if self.admin else display_path(source_uri, self.roots)

    def document(self, document: Document) -> DocumentView:
        """A registry record as the caller may see it."""
        shown = document.model_dump()
        if not self.admin:
            shown["source_uri"] = self.uri(document.source_uri)
            shown["content_hash"] = None
        return DocumentView.model_validate(shown)

    def answer(self, answer: Answer, *, debug: bool = False) -> Answer:
        """An answer as the caller may see it: display paths in citations and sources, and
        ``model_text`` only for an admin who asked for it (``debug``)."""
        update: dict[str, object] = {}
        if not (self.admin and debug):
            update["model_text"] = None
        if not self.admin:
            update["citations"] = tuple(
                c.model_copy(update={"source_uri": self.uri(c.source_uri)})
                for c in answer.citations
            )
            update["sources"] = tuple(
                s.model_copy(update={"source_uri": self.uri(s.source_uri)}) for s in answer.sources
            )
        return answer.model_copy(update=update) if update else answer
