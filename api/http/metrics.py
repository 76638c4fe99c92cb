"""Prometheus metrics for ``GET /metrics``, kept in the app's own ``CollectorRegistry``.

Each ``create_app`` call builds one ``ApiMetrics`` (nothing is registered at import time and the
global default registry is not used), so two apps in one process, as in tests, count apart.

Series:

- ``citewise_http_requests_total{method, route, status}``: requests by route *template*
  (``/v1/ask``, never the raw path; unmatched paths are ``route="<unmatched>"``), counted by
  ``MetricsMiddleware`` once the response has been sent.
- ``citewise_http_request_duration_seconds{method, route, status}``: a latency histogram of
  the same requests. A streamed (SSE) answer is timed until its last event.
- ``citewise_answers_total{outcome, reason}``: answers returned, ``outcome`` ``answered`` or
  ``abstained``, ``reason`` the ``AbstainReason`` (``""`` when answered). Routes that return
  answers call ``metrics_of(request).observe_answer(answer)``; for an answer stream,
  ``observe_events`` does it when the final answer passes by.
- ``citewise_answers_withheld_total`` and ``citewise_withheld_statements_total``: answers shown
  with at least one statement withheld (unsupported by the sources), and how many statements
  were withheld (those of abstentions included).
- ``citewise_answer_support_score``: a histogram of the grounding check's support score (the
  share of supported claims) of every answer that was checked.
- ``citewise_answer_citations``: a histogram of the citations per answer shown (abstentions
  not counted).
- ``citewise_retrieval_top1_similarity``: a histogram of the dense cosine similarity of the
  closest source the caller may read (answers for which it was measured).
- ``citewise_feedback_total{rating}``: thumbs up and down received (``POST /v1/feedback``).
- ``citewise_llm_tokens_total{kind}``: tokens of answer prompts (``kind="prompt"``) and of
  what the model wrote (``kind="completion"``), counted with the answers (history condensing
  calls are not counted).
- ``citewise_ingest_jobs{state}``: ingestion jobs in the queue by state (queued, running, done,
  failed), read from the job store when ``/metrics`` is scraped.
- ``citewise_ingest_jobs_finished_total{kind, status}`` and
  ``citewise_ingest_job_duration_seconds{kind}``: jobs this process ran, and how long each took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.caller import resolve_caller
from api.http.dependencies import (
    AuthenticatorDep,
    Credentials,
    DocumentsDep,
    SettingsDep,
)
from core.models import IngestJob
from generation.answer import AnswerEvent, FinalEvent
from generation.answer_types import Answer

UNMATCHED = "<unmatched>"
"""The ``route`` label of requests no route matched (keeps scanners from adding series)."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
"""Seconds: from health checks to a CPU model answering a long question."""

_HTTP_LABELS = ("method", "route", "status")

SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
"""Support scores and similarities, 0 to 1: tenths, plus the top end where answers sit."""

CITATION_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15)
"""Citations per answer."""


class ApiMetrics:
    """The API's counters and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "citewise_http_requests",
            "HTTP requests by route template and status.",
            _HTTP_LABELS,
            registry=self.registry,
        )
        self._latency = Histogram(
            "citewise_http_request_duration_seconds",
            "HTTP request latency by route template and status.",
            _HTTP_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._answers = Counter(
            "citewise_answers",
            "Answers returned, by outcome (answered, abstained) and abstain reason.",
            ("outcome", "reason"),
            registry=self.registry,
        )
        self._withheld_answers = Counter(
            "citewise_answers_withheld",
            "Answers shown with at least one statement withheld as unsupported.",
            registry=self.registry,
        )
        self._withheld_statements = Counter(
            "citewise_withheld_statements",
            "Statements withheld from answers as unsupported by the sources.",
            registry=self.registry,
        )
        self._support = Histogram(
            "citewise_answer_support_score",
            "Support score (share of supported claims) of checked answers.",
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self._citations = Histogram(
            "citewise_answer_citations",
            "Citations per answer shown (abstentions excluded).",
            buckets=CITATION_BUCKETS,
            registry=self.registry,
        )
        self._similarity = Histogram(
            "citewise_retrieval_top1_similarity",
            "Dense cosine similarity of the closest readable source to the question.",
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self._feedback = Counter(
            "citewise_feedback",
            "Answer feedback received, by rating (up, down).",
            ("rating",),
            registry=self.registry,
        )
        self._tokens = Counter(
            "citewise_llm_tokens",
            "LLM tokens of answers: prompt and completion.",
            ("kind",),
            registry=self.registry,
        )
        self._ingest_jobs = Gauge(
            "citewise_ingest_jobs",
            "Ingestion jobs in the queue by state.",
            ("state",),
            registry=self.registry,
        )
        self._jobs_finished = Counter(
            "citewise_ingest_jobs_finished",
            "Ingestion jobs run by this process, by kind and final status.",
            ("kind", "status"),
            registry=self.registry,
        )
        self._job_seconds = Histogram(
            "citewise_ingest_job_duration_seconds",
            "Time to run one ingestion job.",
            ("kind",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency."""
        labels = (method, route, str(status))
        self._requests.labels(*labels).inc()
        self._latency.labels(*labels).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        """Count one answer returned to a caller."""
        if answer.abstained:
            reason = answer.abstain_reason.value if answer.abstain_reason else "unknown"
            self._answers.labels("abstained", reason).inc()
        else:
            self._answers.labels("answered", "").inc()
            self._citations.observe(len(answer.citations))
        if answer.withheld:
            if not answer.abstained:
                self._withheld_answers.inc()
            self._withheld_statements.inc(len(answer.withheld))
        if answer.verdicts:  # checked: the model wrote something the judge scored
            self._support.observe(answer.support_score)
        if answer.retrieval_similarity is not None:
            self._similarity.observe(max(0.0, answer.retrieval_similarity))
        self._tokens.labels("prompt").inc(answer.prompt_tokens)
        self._tokens.labels("completion").inc(answer.completion_tokens)

    def observe_feedback(self, rating: str) -> None:
        """Count one thumbs up or down."""
        self._feedback.labels(rating).inc()

    def observe_events(self, events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
        """Pass an answer stream through, counting its final answer."""
        for event in events:
            if isinstance(event, FinalEvent):
                self.observe_answer(event.answer)
            yield event

    def set_ingest_jobs(self, state: str, count: int) -> None:
        """How many ingestion jobs are in ``state`` (queued, running, done, failed)."""
        self._ingest_jobs.labels(state).set(count)

    def observe_job(self, job: IngestJob, seconds: float) -> None:
        """Count one ingestion job this process finished running."""
        self._jobs_finished.labels(job.kind.value, job.status.value).inc()
        self._job_seconds.labels(job.kind.value).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)


def metrics_of(request: Request) -> ApiMetrics:
    """The metrics of the app serving ``request``."""
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request (streams included, unlike
    ``BaseHTTPMiddleware``) and labelling it with the matched route's template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then count it under its route template and final status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: an exception escaped
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into the (shared) scope.
            route = scope.get("route")
            template = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
            self.metrics.observe_request(
                scope.get("method", ""),
                str(template) if template else UNMATCHED,
                status,
                time.perf_counter() - started,
            )


MetricsDep = Annotated[ApiMetrics, Depends(metrics_of)]


def _metrics_access(
    request: Request, credentials: Credentials, settings: SettingsDep, tokens: AuthenticatorDep
) -> None:
    """Anyone may scrape with ``api.metrics_public`` (the default); else an API key is needed."""
    del credentials  # declared for the OpenAPI schema's Bearer scheme
    if not settings.api.metrics_public:
        resolve_caller(request, settings, tokens)


router = APIRouter()


@router.get(
    "/metrics",
    tags=["health"],
    response_class=Response,
    dependencies=[Depends(_metrics_access)],
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(metrics: MetricsDep, documents: DocumentsDep) -> Response:
    """Prometheus metrics: requests, latency, answers, tokens and ingestion jobs (text
    exposition format)."""
    for state, count in documents.job_counts().items():
        metrics.set_ingest_jobs(state.value, count)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
