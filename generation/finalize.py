"""From the model's raw text to what the reader is shown: the verdict decides.

This is the model-independent tail of answering; the answer service runs retrieval, the
abstention check before generation, the prompt and the generator, then hands the model's text
to ``AnswerChecker.finalize``:

1. markers are parsed and uncited factual sentences attributed to a supporting source;
2. every claim is judged against the sources it cites (``check_answer``); a claim its own
   citation does not support, but another source does, cites that source instead;
3. under ``withhold`` (the default) unsupported claims are cut from the text and listed in
   ``Answer.withheld`` with their reason; under ``flag`` they stay, flagged in the verdicts
   (for debugging and evaluation only);
4. the answer must still answer the question: with ``min_relevance`` set, at least one
   supported claim must score that close to the question or one of its parts
   (``AnswerRelevance``), stating a figure when that part asks for a quantity;
5. otherwise, if a source sentence clearly addresses the question (``quote_min_relevance``),
   it is quoted verbatim as the answer; else the answer is the standard abstention with the
   closest sources.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.tracing import NOOP_TRACER, Tracer
from generation.abstention import AbstentionPolicy
from generation.answer_types import (
    AbstainReason,
    Answer,
    Citation,
    SentenceKind,
    SentenceVerdict,
    WithheldStatement,
)
from generation.attribution import attribute_uncited, recite
from generation.citations import parse_answer, resolve_citations, strip_markers
from generation.grounding import GroundingReport, SupportJudge, WarmableJudge, check_answer
from generation.relevance import AnswerRelevance, Quote
from retrieval.context import Context, Source
from retrieval.embedder import Embedder

QUOTE_LEAD = "The documents say:"
"""How a quoted answer starts, so a reader knows the words are the source's, not the model's."""

_QUOTABLE = frozenset(
    {AbstainReason.MODEL_DECLINED, AbstainReason.UNSUPPORTED, AbstainReason.OFF_QUESTION}
)
"""Abstentions after generation that a quote may replace: retrieval found sources, but the
model's own answer did not hold."""


@dataclass(frozen=True)
class CheckOptions:
    """What the check does with its verdicts (see ``AnswerSettings``).

    ``withhold``: cut unsupported claims from the text (else flag them).
    ``attribute_uncited``: cite, for an uncited factual sentence, the source supporting it.
    ``recite_miscited``: cite, for a claim its own citation does not support, the source of
    the context that does.
    ``min_relevance``: a supported claim must score at least this against the question, else
    the answer is off the question (None: no relevance check).
    ``min_part_relevance``: for a question of several parts, a part no shown claim scores at
    least this against is open (``open_parts``; None: parts are not checked).
    ``quote_min_relevance``: quote a source sentence that scores at least this when the
    model's answer did not hold (None: never quote).
    """

    withhold: bool = True
    attribute_uncited: bool = True
    recite_miscited: bool = True
    min_relevance: float | None = None
    min_part_relevance: float | None = None
    quote_min_relevance: float | None = None


class AnswerChecker:
    """Turns the model's text into the ``Answer`` a reader may be shown."""

    def __init__(
        self,
        judge: SupportJudge,
        *,
        policy: AbstentionPolicy | None = None,
        options: CheckOptions | None = None,
        embedder: Embedder | None = None,
        tracer: Tracer = NOOP_TRACER,
    ) -> None:
        """``embedder`` ranks citation quotes by meaning and scores answer relevance; without
        one, quotes are ranked by words only and the relevance options must be off.
        ``tracer`` times the check as a ``check`` span, a ``judge`` span per pass of the
        judge, and ``withhold`` / ``abstain`` spans for what they decide."""
        self._tracer = tracer
        self._judge = judge
        self._policy = policy or AbstentionPolicy()
        self._options = options or CheckOptions()
        self._embedder = embedder
        self._relevance = AnswerRelevance(embedder) if embedder is not None else None
        thresholds = (
            self._options.min_relevance,
            self._options.min_part_relevance,
            self._options.quote_min_relevance,
        )
        if self._relevance is None and any(t is not None for t in thresholds):
            raise ValueError("answer relevance needs an embedder")

    @property
    def options(self) -> CheckOptions:
        """What the check does with its verdicts."""
        return self._options

    def warm_up(self) -> None:
        """Load the judge's model now (the embedder is warmed by the searcher)."""
        if isinstance(self._judge, WarmableJudge):
            self._judge.warm_up()

    def finalize(
        self,
        context: Context,
        model_text: str,
        *,
        prompt_id: str | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> Answer:
        """Check ``model_text`` against ``context`` (the sources the prompt showed) and build
        the answer the reader is shown. ``timings`` are copied in, with ``check`` added."""
        judge = type(self._judge).__name__
        with self._tracer.span("check", **{"judge.name": judge}) as span:
            answer = self._finalize(context, model_text, prompt_id=prompt_id, timings=timings)
            span.set("check.claims", sum(v.kind is SentenceKind.CLAIM for v in answer.verdicts))
            span.set("check.supported", sum(v.supported for v in answer.verdicts))
            span.set("answer.support_score", answer.support_score)
        if answer.withheld:
            with self._tracer.span("withhold", **{"withheld.count": len(answer.withheld)}):
                pass
        if answer.abstained and answer.abstain_reason is not None:
            attributes = {"abstain.reason": answer.abstain_reason.value, "stage": "check"}
            with self._tracer.span("abstain", **attributes):
                pass
        return answer

    def _finalize(
        self,
        context: Context,
        model_text: str,
        *,
        prompt_id: str | None,
        timings: Mapping[str, float] | None,
    ) -> Answer:
        started = time.perf_counter()
        options = self._options
        judge = type(self._judge).__name__
        parsed = parse_answer(model_text, len(context.sources))
        attributed: frozenset[int] = frozenset()
        if options.attribute_uncited:
            with self._tracer.span("judge", **{"judge.name": judge, "judge.pass": "attribute"}):
                attribution = attribute_uncited(parsed, context, self._judge)
            parsed, attributed = attribution.parsed, attribution.attributed
        with self._tracer.span("judge", **{"judge.name": judge, "judge.pass": "ground"}) as span:
            report = check_answer(parsed, context, self._judge, remove_unsupported=options.withhold)
            span.set("judge.verdicts", len(report.verdicts))
        if options.recite_miscited:
            miscited = [
                i
                for i, v in enumerate(report.verdicts)
                if v.kind is SentenceKind.CLAIM and not v.supported and v.cited
            ]
            with self._tracer.span("judge", **{"judge.name": judge, "judge.pass": "recite"}):
                fixed = recite(parsed, context, self._judge, miscited)
                if fixed.attributed:
                    parsed, attributed = fixed.parsed, attributed | fixed.attributed
                    report = check_answer(
                        parsed, context, self._judge, remove_unsupported=options.withhold
                    )
        verdicts = tuple(
            v.model_copy(update={"attributed": True}) if i in attributed else v
            for i, v in enumerate(report.verdicts)
        )
        verdicts, reason = self._decide(context.question, verdicts, report, context)
        withheld = _withheld(verdicts) if options.withhold else ()
        stages = dict(timings or {})
        checked = Answer(
            question=context.question,
            text=report.text,
            verdicts=verdicts,
            support_score=report.support_score,
            dropped_markers=parsed.dropped,
            sources=context.sources,
            withheld=withheld,
            model_text=model_text,
            prompt_id=prompt_id,
        )
        if reason is None:
            citations = resolve_citations(report.kept, context, self._embedder)
            stages["check"] = time.perf_counter() - started
            return checked.model_copy(update={"citations": citations, "timings": stages})
        quote = self._quote(context, reason)
        stages["check"] = time.perf_counter() - started
        if quote is not None:
            return _quoted(checked, quote, stages)
        abstention = self._policy.abstain(
            context.question,
            reason,
            context.sources,
            verdicts=verdicts,
            support_score=report.support_score,
            dropped_markers=parsed.dropped,
            model_text=model_text,
            prompt_id=prompt_id,
            timings=stages,
        )
        return abstention.model_copy(update={"withheld": withheld})

    def _decide(
        self,
        question: str,
        verdicts: tuple[SentenceVerdict, ...],
        report: GroundingReport,
        context: Context,
    ) -> tuple[tuple[SentenceVerdict, ...], AbstainReason | None]:
        """The verdicts with relevance scores on supported claims, and the reason to abstain
        (None: the answer stands)."""
        reason = self._policy.after_check(verdicts, report.support_score)
        threshold = self._options.min_relevance
        if self._relevance is None or threshold is None:
            return verdicts, reason
        supported = [
            i for i, v in enumerate(verdicts) if v.kind is SentenceKind.CLAIM and v.supported
        ]
        if not supported:
            return verdicts, reason
        claims = [_claim_text(verdicts[i].sentence) for i in supported]
        relevance = {"judge.name": "AnswerRelevance", "judge.pass": "relevance"}
        with self._tracer.span("judge", **relevance):
            scores = self._relevance.claim_scores(
                question,
                claims,
                [verdicts[i].evidence for i in supported],
                [_heading(context, verdicts[i].cited) for i in supported],
            )
        scored = list(verdicts)
        for i, score in zip(supported, scores, strict=True):
            scored[i] = verdicts[i].model_copy(update={"relevance": round(score, 4)})
        if reason is None and max(scores) < threshold:
            reason = AbstainReason.OFF_QUESTION
        return tuple(scored), reason

    def open_parts(self, answer: Answer, parts: Sequence[str]) -> list[int]:
        """The indices of ``parts`` (of ``answer``'s question) that no shown, supported claim
        answers at ``min_part_relevance``: all of them when the answer abstained, none when
        parts are not checked."""
        threshold = self._options.min_part_relevance
        if self._relevance is None or threshold is None:
            return []
        if answer.abstained:
            return list(range(len(parts)))
        shown = [v for v in answer.verdicts if v.kind is SentenceKind.CLAIM and v.supported]
        claims = [_claim_text(v.sentence) for v in shown]
        evidence = [v.evidence for v in shown]
        headings = [
            " ".join(s.heading for n in v.cited if (s := _source(answer, n)) is not None)
            for v in shown
        ]
        open_parts = []
        for i, part in enumerate(parts):
            scores = self._relevance.part_scores(part, claims, evidence, headings) if shown else []
            if max(scores, default=0.0) < threshold:
                open_parts.append(i)
        return open_parts

    def _quote(self, context: Context, reason: AbstainReason) -> Quote | None:
        threshold = self._options.quote_min_relevance
        if self._relevance is None or threshold is None or reason not in _QUOTABLE:
            return None
        quote = self._relevance.best_quote(context.question, context.sources)
        return quote if quote is not None and quote.score >= threshold else None


def _withheld(verdicts: Sequence[SentenceVerdict]) -> tuple[WithheldStatement, ...]:
    return tuple(
        WithheldStatement(sentence=v.sentence, cited=v.cited, reason=v.reason)
        for v in verdicts
        if v.kind is SentenceKind.CLAIM and not v.supported
    )


def _quoted(checked: Answer, quote: Quote, timings: dict[str, float]) -> Answer:
    """``checked`` with its text replaced by ``quote``, verbatim, citing its source."""
    source = quote.source
    citation = Citation(
        number=source.number,
        doc_id=source.doc_id,
        chunk_ids=source.chunk_ids,
        title=source.title,
        source_uri=source.source_uri,
        section_path=source.section_path,
        pages=source.pages,
        quote=quote.text,
        quote_span=quote.span,
    )
    text = f'{QUOTE_LEAD} "{quote.text.strip()}" [{source.number}]'
    return checked.model_copy(
        update={"text": text, "citations": (citation,), "quoted": True, "timings": timings}
    )


def _source(answer: Answer, number: int) -> Source | None:
    return answer.sources[number - 1] if 1 <= number <= len(answer.sources) else None


def _heading(context: Context, cited: Sequence[int]) -> str:
    return " ".join(s.heading for n in cited if (s := context.source(n)) is not None)


def _claim_text(sentence: str) -> str:
    return strip_markers(sentence).strip()
