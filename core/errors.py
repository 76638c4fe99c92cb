"""One error hierarchy for Citewise.

Adapters translate third-party exceptions into these (``raise ... from e``) so callers never
depend on a vendor's exception types. ``retryable`` tells a caller whether trying the same
operation again may succeed.
"""

from __future__ import annotations


class CitewiseError(Exception):
    """Base class of every error Citewise raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        """The human-readable explanation, one line."""
        return str(self.args[0]) if self.args else type(self).__name__


class InvalidInputError(CitewiseError, ValueError):
    """What a caller sent is not acceptable (an empty question, an ACL naming no reader): the
    caller's mistake, told back to them. It is also a ``ValueError``, for callers that catch
    that."""


class ConfigError(CitewiseError):
    """Settings or a policy file are invalid."""


class NotFoundError(CitewiseError):
    """A document, job or other object does not exist (or is not visible to the caller)."""


class DocumentError(CitewiseError):
    """A single source document could not be ingested; the batch goes on without it."""


class EmptyDocumentError(DocumentError):
    """The file parsed but holds no text (zero bytes, or nothing extractable)."""


class ParseError(DocumentError):
    """The parser failed on the file (corrupt, wrong content for its extension, bad encoding)."""


class UnsupportedFormatError(DocumentError):
    """The file is not a format Citewise ingests (by its name, or by what its bytes are)."""


class TooLargeError(DocumentError):
    """A file is over a configured size limit."""


class MissingToolError(DocumentError):
    """A system tool needed for this format (LibreOffice, tesseract) is not installed."""


class StoreLockedError(CitewiseError):
    """Another process holds the index store; only one process may open it at a time."""

    retryable = True


class IndexStoreError(CitewiseError):
    """The vector index failed to read or write."""


class RegistryError(CitewiseError):
    """The document registry (SQL database) failed."""


class ModelLoadError(CitewiseError):
    """A model could not be located or loaded from its offline package."""
