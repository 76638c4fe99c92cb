"""The OpenTelemetry adapter: off means nothing set up; on, the services' spans nest, the
check's ``judge`` / ``withhold`` / ``abstain`` spans appear, and no text goes into them
(the SDK's in-memory exporter; the full served tree is tests/integration/test_tracing.py)."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.composition.telemetry import OtelTracer, build_app, open_telemetry
from core.settings import Settings
from core.tracing import NOOP_TRACER
from generation.finalize import AnswerChecker
from generation.grounding import LexicalEmbeddingJudge
from generation.prompting import PromptBuilder
from tests.unit.generation.fakes import FakeEmbedder, FakeGenerator, context

POLICY = "Hotel costs are reimbursed up to $240 per night in major cities."
LEAVE = "Full-time employees receive 25 days of paid annual leave each year."
QUESTION = "What is the hotel limit per night?"
REPLY = (
    "Hotels are reimbursed up to $240 per night in major cities [1]. "
    "Employees receive 30 days of paid annual leave [2]."
)


def test_off_sets_nothing_up(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path)
    with open_telemetry(settings) as telemetry:
        assert telemetry.tracer is NOOP_TRACER and not telemetry.enabled
        app = build_app(settings, telemetry)
        assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    with NOOP_TRACER.span("x", a=1) as span:
        span.set("b", 2)  # accepted, recorded nowhere
    assert not NOOP_TRACER.records_question_text


def test_on_instruments_the_app_and_may_record_questions(tmp_path: Path) -> None:
    settings = Settings.load(
        data_dir=tmp_path,
        telemetry={"otlp_endpoint": "http://127.0.0.1:9/v1/traces", "record_question_text": True},
    )
    with open_telemetry(settings) as telemetry:  # the OTLP exporter; nothing is sent
        assert isinstance(telemetry.tracer, OtelTracer) and telemetry.enabled
        assert telemetry.tracer.records_question_text
        app = build_app(settings, telemetry)
        assert getattr(app, "_is_instrumented_by_opentelemetry", False)
    blank = Settings.load(data_dir=tmp_path, telemetry={"otlp_endpoint": ""})
    assert blank.telemetry.otlp_endpoint is None  # an unset compose variable: off


def test_the_check_traces_its_judges_and_what_it_withholds(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    settings = Settings.load(data_dir=tmp_path)
    with open_telemetry(settings, exporter=exporter) as telemetry:
        ctx = context(QUESTION, POLICY, LEAVE)
        generator = FakeGenerator([REPLY])
        prompt = PromptBuilder(generator).build(ctx)
        embedder = FakeEmbedder()
        checker = AnswerChecker(
            LexicalEmbeddingJudge(embedder), embedder=embedder, tracer=telemetry.tracer
        )
        with telemetry.tracer.span("answer"):
            answer = checker.finalize(prompt.context, REPLY)
    assert len(answer.withheld) == 1
    spans = {s.name: s for s in exporter.get_finished_spans()}
    parent = spans["answer"].context.span_id
    for name in ("check", "withhold"):
        assert spans[name].parent is not None and spans[name].parent.span_id == parent, name
    judges = [s for s in exporter.get_finished_spans() if s.name == "judge"]
    passes = {s.attributes["judge.pass"] for s in judges if s.attributes}
    assert {"attribute", "ground"} <= passes
    for judge in judges:
        assert judge.parent is not None
        assert judge.parent.span_id == spans["check"].context.span_id
    assert spans["withhold"].attributes == {"withheld.count": 1}
    check = spans["check"].attributes or {}
    assert check["judge.name"] == "LexicalEmbeddingJudge" and check["check.claims"] == 2
    for span in exporter.get_finished_spans():
        for value in (span.attributes or {}).values():
            assert not (isinstance(value, str) and ("$240" in value or "30 days" in value))
