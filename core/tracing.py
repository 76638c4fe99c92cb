"""A tiny tracing interface: the services time their stages as named spans without knowing
OpenTelemetry.

The composition root hands each service a ``Tracer``: ``NOOP_TRACER`` (the default, when
``telemetry.otlp_endpoint`` is unset) or the OpenTelemetry adapter in
``api/composition/telemetry.py``. The no-op tracer does nothing at all, so a service that
traces costs a function call and a ``with`` per stage when tracing is off.

Attributes are scalars only, and never document text: the services put ids, counts, scores
and timings in them. Question text goes in only when ``Tracer.records_question_text`` says so
(the ``telemetry.record_question_text`` setting).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

AttributeValue = str | bool | int | float
"""What a span attribute may hold."""


class Span(Protocol):
    """One timed stage; attributes may be added while it runs."""

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set attribute ``key`` (a ``None`` value is skipped)."""

    def end(self) -> None:
        """End a span made by ``Tracer.start`` (spans of ``Tracer.span`` end by themselves)."""


class Tracer(Protocol):
    """Makes spans; nested ``span`` blocks become child spans."""

    @property
    def records_question_text(self) -> bool:
        """Whether the question's text may go into a span attribute."""

    def span(self, name: str, **attributes: AttributeValue | None) -> AbstractContextManager[Span]:
        """A span around a block, current (the parent of spans opened inside it) until it
        ends; an exception escaping the block is recorded on it."""

    def start(self, name: str, **attributes: AttributeValue | None) -> Span:
        """A span that is not made current, for a stage that spans the ``yield`` of a
        generator (a stream); the caller ends it."""


class _NoopSpan:
    """A span that records nothing; also its own context manager, so no object is made per
    stage when tracing is off."""

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Nothing to record."""

    def end(self) -> None:
        """Nothing to end."""

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_SPAN = _NoopSpan()


class NoopTracer:
    """The tracer when tracing is off: every span is the same do-nothing object."""

    records_question_text = False

    def span(self, name: str, **attributes: AttributeValue | None) -> AbstractContextManager[Span]:
        """A do-nothing span."""
        return _SPAN

    def start(self, name: str, **attributes: AttributeValue | None) -> Span:
        """A do-nothing span."""
        return _SPAN


NOOP_TRACER: Tracer = NoopTracer()
"""The default tracer of every service."""
