"""The composition root, telemetry: the OpenTelemetry adapter behind ``core.tracing.Tracer``.

With ``telemetry.otlp_endpoint`` unset (the default) nothing of OpenTelemetry is set up: the
services get ``NOOP_TRACER`` and the app is not instrumented. Set, a ``TracerProvider`` of this
process's own (the global one is left alone, so tests and embedders do not collide) batches
spans to the OTLP/HTTP exporter, and the FastAPI instrumentation adds the HTTP request's
server span, the parent of the services' spans. Tests pass an exporter of their own (the
SDK's ``InMemorySpanExporter``), exported synchronously.

Span names and attributes are listed in docs/monitoring.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from api.composition.serving import open_services
from api.http.app import create_app
from core.settings import Settings
from core.tracing import NOOP_TRACER, AttributeValue, Span, Tracer

UNTRACED_URLS = "/metrics,/healthz,/readyz"
"""Scrapes and probes: frequent, and nothing to learn from their traces."""


class OtelSpan:
    """A ``core.tracing.Span`` over an OpenTelemetry span."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set an attribute (``None`` is skipped)."""
        if value is not None:
            self._span.set_attribute(key, value)

    def end(self) -> None:
        """End the span."""
        self._span.end()


class OtelTracer:
    """A ``core.tracing.Tracer`` making OpenTelemetry spans from ``provider``."""

    def __init__(self, provider: trace.TracerProvider, *, record_question_text: bool) -> None:
        self._tracer = provider.get_tracer("citewise")
        self._record_question_text = record_question_text

    @property
    def records_question_text(self) -> bool:
        """Whether the question's text may go into a span attribute."""
        return self._record_question_text

    def span(self, name: str, **attributes: AttributeValue | None) -> AbstractContextManager[Span]:
        """A current span around a block (exceptions recorded, status set to error)."""
        return self._current(name, attributes)

    @contextmanager
    def _current(self, name: str, attributes: dict[str, AttributeValue | None]) -> Iterator[Span]:
        kept = {k: v for k, v in attributes.items() if v is not None}
        with self._tracer.start_as_current_span(name, attributes=kept) as span:
            yield OtelSpan(span)

    def start(self, name: str, **attributes: AttributeValue | None) -> Span:
        """A span that is not made current; the caller ends it."""
        kept = {k: v for k, v in attributes.items() if v is not None}
        return OtelSpan(self._tracer.start_span(name, attributes=kept))


@dataclass
class Telemetry:
    """What tracing needs wired: the services' tracer, and the provider (None when off) that
    instruments the app."""

    tracer: Tracer
    provider: TracerProvider | None = None

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded at all."""
        return self.provider is not None

    def instrument(self, app: FastAPI) -> None:
        """Add the HTTP server span to ``app``'s requests (nothing when tracing is off)."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=UNTRACED_URLS,
            # Per-message ASGI send/receive spans: noise around every SSE event.
            exclude_spans=["receive", "send"],
        )


@contextmanager
def open_telemetry(
    settings: Settings, *, exporter: SpanExporter | None = None
) -> Iterator[Telemetry]:
    """Tracing as configured, for a process's lifetime; spans still buffered are flushed at
    the end. ``exporter`` (tests) replaces the OTLP exporter and turns tracing on."""
    config = settings.telemetry
    if exporter is None and config.otlp_endpoint is None:
        yield Telemetry(NOOP_TRACER)
        return
    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint))
    provider = TracerProvider(
        resource=Resource.create({"service.name": config.service_name}),
        sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
    )
    provider.add_span_processor(processor)
    try:
        yield Telemetry(
            OtelTracer(provider, record_question_text=config.record_question_text), provider
        )
    finally:
        provider.shutdown()


def build_app(settings: Settings, telemetry: Telemetry) -> FastAPI:
    """The served API (what ``citewise serve`` runs): services traced with ``telemetry``'s
    tracer, requests with its provider."""
    app = create_app(settings, partial(open_services, tracer=telemetry.tracer))
    telemetry.instrument(app)
    return app
