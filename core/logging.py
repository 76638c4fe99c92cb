"""Logging set-up: stdlib logging with structured ``key=value`` fields.

Modules log with ``logging.getLogger(__name__)`` and pass fields through ``extra={"fields":
{...}}``; this formatter appends them so logs stay greppable and machine-readable.
"""

from __future__ import annotations

import logging
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class FieldsFormatter(logging.Formatter):
    """Appends ``extra={'fields': {...}}`` to the message as ``key=value`` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then append its structured fields."""
        text = super().format(record)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(f"{key}={value!r}" for key, value in fields.items())
        return text


def configure_logging(level: str = "WARNING") -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if isinstance(handler.formatter, FieldsFormatter):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(FieldsFormatter(_FORMAT))
    root.addHandler(handler)


def fields(**values: Any) -> dict[str, dict[str, Any]]:
    """Build ``extra`` for a structured log call: ``log.info(msg, extra=fields(k=v))``."""
    return {"fields": values}
