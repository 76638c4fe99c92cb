"""The answer service: a question in, a grounded, cited and checked ``Answer`` out.

Steps, each timed into ``Answer.timings``:

1. ``condense``: a follow-up is rewritten, with the conversation, into a standalone question;
2. ``retrieve``: hybrid search as the principal, plus the best *dense cosine* similarity
   (fused scores are rank-based and say nothing about how close the best source is);
3. ``assemble``: numbered context within budget, counted with the generator's tokenizer;
4. abstain before generation when there is nothing close enough to answer from;
5. ``prompt`` + ``generate`` (or ``stream``); ``check``: markers, grounding, citations.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.errors import CitewiseError, InvalidInputError
from core.models import Principal
from core.tracing import NOOP_TRACER, Span, Tracer
from generation.abstention import AbstentionPolicy
from generation.answer_types import Answer, ChatMessage, FinishReason
from generation.condense import condense_request, needs_condensing, read_condensed
from generation.finalize import AnswerChecker
from generation.generator import Generator
from generation.open_parts import OpenPartsMode, PartFollowUp
from generation.prompting import Prompt, PromptBuilder
from retrieval.context import ContextAssembler, Source
from retrieval.query import AccessScope, SearchFilters, SearchMode
from retrieval.search import Searcher
from retrieval.selection import SimilaritySelector

_log = logging.getLogger(__name__)


class GeneratorTokenCounter:
    """Counts context tokens with the answering model's own tokenizer, so the context budget
    and the prompt window are measured in the same units."""

    def __init__(self, generator: Generator) -> None:
        self._generator = generator

    def count(self, text: str) -> int:
        """Tokens of ``text`` for the generator."""
        return self._generator.count_tokens(text)

    def encode(self, text: str) -> list[int]:
        """Not needed by context assembly; a generator exposes counts, not ids."""
        raise NotImplementedError("GeneratorTokenCounter only counts")


@dataclass(frozen=True)
class AnswerOptions:
    """Knobs of the answer path (see ``LlmSettings`` and ``AnswerSettings``)."""

    k: int = 8
    max_answer_tokens: int = 384
    temperature: float = 0.0
    condense_history: bool = True
    open_parts: OpenPartsMode = "ask"
    """Ask the model again each part of a several-part question its answer leaves open
    (``generation.open_parts``)."""


@dataclass(frozen=True)
class SourcesEvent:
    """Streaming: the numbered sources the model is about to answer from."""

    question: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class DeltaEvent:
    """Streaming: raw model text as it is generated (before the grounding check)."""

    text: str


@dataclass(frozen=True)
class FinalEvent:
    """Streaming: the checked answer, which supersedes the streamed text."""

    answer: Answer


AnswerEvent = SourcesEvent | DeltaEvent | FinalEvent


@dataclass
class Prepared:
    """What is known before the model writes: the standalone question, the stage timings so
    far, and ``next``: the prompt to generate from, or the answer when it abstains early."""

    question: str
    timings: dict[str, float]
    next: Prompt | Answer
    similarity: float | None = None
    """The closest readable chunk's dense cosine similarity (None: not measured)."""


class AnswerService:
    """Answers questions from the documents a principal may read, with checked citations."""

    def __init__(
        self,
        searcher: Searcher,
        generator: Generator,
        checker: AnswerChecker,
        assembler: ContextAssembler,
        prompts: PromptBuilder,
        *,
        policy: AbstentionPolicy | None = None,
        options: AnswerOptions | None = None,
        selector: SimilaritySelector | None = None,
        tracer: Tracer = NOOP_TRACER,
    ) -> None:
        """``checker`` decides what of the model's text the reader is shown; ``assembler``
        numbers the sources within the context budget and ``prompts`` builds the prompt from
        them (both measured in ``generator``'s tokens); ``policy`` (the same one the checker
        abstains with) decides when to abstain before generation; ``selector``, when given,
        keeps only the hits closest to the question for the prompt; ``tracer`` times the
        stages as spans (docs/monitoring.md)."""
        self._tracer = tracer
        self._searcher = searcher
        self._generator = generator
        self._checker = checker
        self._policy = policy or AbstentionPolicy()
        self._options = options or AnswerOptions()
        self._selector = selector
        self._assembler = assembler
        self._prompts = prompts
        self._llm_load_started = False
        self._parts = PartFollowUp(
            generator,
            prompts,
            checker,
            mode=self._options.open_parts,
            temperature=self._options.temperature,
        )

    @property
    def generator(self) -> Generator:
        """The model that writes the answers."""
        return self._generator

    def warm_up(self) -> None:
        """Load the embedding model, the LLM and the judge's model now, not on the first
        question."""
        self._llm_load_started = True
        self._searcher.warm_up()
        self._generator.warm_up()
        self._checker.warm_up()

    def answer(
        self,
        question: str,
        principal: Principal,
        *,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> Answer:
        """The checked answer to ``question`` as ``principal`` may know it."""
        with self._tracer.span("answer", **self._question_attributes(question, history)) as span:
            answer = self._answer(question, principal, history, filters)
            _describe(span, answer)
            return answer

    def _answer(
        self,
        question: str,
        principal: Principal,
        history: Sequence[ChatMessage],
        filters: SearchFilters | None,
    ) -> Answer:
        started = time.perf_counter()
        prepared = self.prepare(question, principal, history, filters)
        prompt = prepared.next
        if isinstance(prompt, Answer):
            return _with_total(prompt, started, prepared.similarity)
        t0 = time.perf_counter()
        with self._tracer.span("generate", **{"llm.prompt_tokens": prompt.prompt_tokens}) as span:
            result = self._generator.generate(prompt.request(temperature=self._options.temperature))
            span.set("llm.completion_tokens", result.completion_tokens)
            span.set("llm.ttft_s", result.timings.first_token_s)
            span.set("llm.finish_reason", result.finish_reason.value)
            span.set("llm.model", result.model)
        prepared.timings["generate"] = time.perf_counter() - t0
        text = result.text
        if result.finish_reason is FinishReason.LENGTH:
            # Cut off by max_tokens: a half sentence would be judged as a claim; drop it.
            text = _complete_sentences(text)
            _log.warning("answer hit max_tokens", extra={"tokens": result.completion_tokens})
        answer = self._finalize(prompt, text, prepared.timings)
        answer = self._parts.complete(prompt, text, answer)
        usage = {
            "prompt_tokens": result.prompt_tokens or prompt.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        }
        return _with_total(answer.model_copy(update=usage), started, prepared.similarity)

    def stream(
        self,
        question: str,
        principal: Principal,
        *,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> Iterator[AnswerEvent]:
        """Sources first, then the model's text as it is written, then the checked answer.

        The final answer may differ from the streamed text: unsupported sentences flagged or
        removed, invalid markers dropped, the parts of the question it left open answered
        (``answer.open_parts``), or the whole answer replaced by an abstention.
        """
        started = time.perf_counter()
        # A span must not stay current across a yield (the consumer may resume the stream in
        # another thread): the stages before and after generation are spans of their own, and
        # the generation's span is started and ended by hand.
        with self._tracer.span("answer.prepare", **self._question_attributes(question, history)):
            prepared = self.prepare(question, principal, history, filters)
        prompt = prepared.next
        if isinstance(prompt, Answer):
            yield FinalEvent(_with_total(prompt, started, prepared.similarity))
            return
        yield SourcesEvent(prepared.question, prompt.context.sources)
        t0 = time.perf_counter()
        parts: list[str] = []
        span = self._tracer.start(
            "generate", **{"llm.prompt_tokens": prompt.prompt_tokens, "llm.stream": True}
        )
        try:
            for delta in self._generator.stream(
                prompt.request(temperature=self._options.temperature)
            ):
                if not parts:
                    prepared.timings["first_token"] = time.perf_counter() - t0
                    span.set("llm.ttft_s", prepared.timings["first_token"])
                parts.append(delta)
                yield DeltaEvent(delta)
        finally:
            span.end()
        prepared.timings["generate"] = time.perf_counter() - t0
        text = "".join(parts)
        with self._tracer.span("answer.finalize") as final:
            answer = self._finalize(prompt, text, prepared.timings)
            answer = self._parts.complete(prompt, text, answer)
            _describe(final, answer)
        # A stream reports no usage: count with the model's own tokenizer.
        usage = {
            "prompt_tokens": prompt.prompt_tokens,
            "completion_tokens": self._generator.count_tokens(text),
        }
        yield FinalEvent(_with_total(answer.model_copy(update=usage), started, prepared.similarity))

    def condense(self, question: str, history: Sequence[ChatMessage]) -> str:
        """``question`` rewritten as a standalone question, given the conversation."""
        if not self._options.condense_history or not needs_condensing(history):
            return question
        with self._tracer.span("condense", **{"history.turns": len(history)}) as span:
            reply = self._generator.generate(condense_request(history, question))
            span.set("llm.completion_tokens", reply.completion_tokens)
            return read_condensed(reply.text, question)

    def prepare(
        self,
        question: str,
        principal: Principal,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> Prepared:
        """Everything before generation: condense, retrieve, assemble, abstain early or build
        the prompt (evals and benchmarks use it to see exactly what the model is shown)."""
        if not question.strip():
            raise InvalidInputError("the question is empty")
        self._load_generator_early()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        standalone = self.condense(question, history)
        if standalone != question:
            timings["condense"] = time.perf_counter() - t0
            _log.info("condensed follow-up", extra={"question": standalone})
        t0 = time.perf_counter()
        with self._tracer.span("retrieve", **{"search.k": self._options.k}) as span:
            hits = self._searcher.search(standalone, principal, k=self._options.k, filters=filters)
            similarity = self._best_similarity(standalone, principal, filters) if hits else None
            if self._selector is not None:
                hits = self._selector.select(standalone, hits)
            span.set("retrieve.hits", len(hits))
            span.set("retrieval.top1_similarity", similarity)
        timings["retrieve"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with self._tracer.span("assemble") as span:
            scope = AccessScope.for_principal(principal)
            context = self._assembler.assemble(standalone, hits, scope)
            span.set("context.sources", len(context.sources))
            span.set("context.tokens", sum(s.token_count for s in context.sources))
        timings["assemble"] = time.perf_counter() - t0
        reason = self._policy.before_generation(context, similarity)
        if reason is not None:
            with self._tracer.span("abstain", **{"abstain.reason": reason.value, "stage": "early"}):
                abstention = self._policy.abstain(
                    standalone, reason, context.sources, timings=timings
                )
            return Prepared(standalone, timings, abstention, similarity)
        t0 = time.perf_counter()
        with self._tracer.span("prompt") as span:
            prompt = self._prompts.build(context, standalone)
            span.set("prompt.template", prompt.template_id)
            span.set("llm.prompt_tokens", prompt.prompt_tokens)
        timings["prompt"] = time.perf_counter() - t0
        return Prepared(standalone, timings, prompt, similarity)

    def _question_attributes(
        self, question: str, history: Sequence[ChatMessage]
    ) -> dict[str, str | int | None]:
        """The question's length (and its text only where tracing may record it)."""
        return {
            "question.length": len(question),
            "question.text": question if self._tracer.records_question_text else None,
            "history.turns": len(history),
        }

    def _load_generator_early(self) -> None:
        """In a service nobody warmed (one ``citewise ask``), load the LLM while retrieval
        loads the embedder and searches: assembly needs the LLM's tokenizer, so otherwise the
        two loads run one after the other before the first token (issue 18, lever 6)."""
        if self._llm_load_started:
            return
        self._llm_load_started = True
        threading.Thread(
            target=_warm_quietly, args=(self._generator,), name="llm-warm-up", daemon=True
        ).start()

    def _best_similarity(
        self, question: str, principal: Principal, filters: SearchFilters | None
    ) -> float | None:
        """Cosine similarity of the closest readable chunk (a dense top-1 search)."""
        if self._policy.min_retrieval_similarity is None:
            return None
        best = self._searcher.search(
            question, principal, k=1, mode=SearchMode.DENSE, filters=filters
        )
        return best[0].score if best else None

    def _finalize(self, prompt: Prompt, text: str, timings: dict[str, float]) -> Answer:
        return self._checker.finalize(
            prompt.context, text, prompt_id=prompt.template_id, timings=timings
        )


def _warm_quietly(generator: Generator) -> None:
    """``generator.warm_up()``; a failure is left for the request that needs it to raise."""
    try:
        generator.warm_up()
    except CitewiseError as e:
        _log.debug("early LLM load failed", extra={"error": str(e)})


def _complete_sentences(text: str) -> str:
    """``text`` up to its last sentence end (with any citation right after it)."""
    cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("] "), text.rfind("]\n"))
    stripped = text.rstrip()
    if stripped.endswith((".", "]", "!", "?")):
        return stripped
    return text[: cut + 1].rstrip() if cut >= 0 else text


def _with_total(answer: Answer, started: float, similarity: float | None) -> Answer:
    timings = dict(answer.timings)
    timings["total"] = time.perf_counter() - started
    return answer.model_copy(update={"timings": timings, "retrieval_similarity": similarity})


def _describe(span: Span, answer: Answer) -> None:
    """The answer's outcome on its span: ids, counts and scores, never its text."""
    span.set("answer.id", answer.answer_id)
    span.set("answer.abstained", answer.abstained)
    reason = answer.abstain_reason
    span.set("answer.abstain_reason", reason.value if reason is not None else None)
    span.set("answer.withheld", len(answer.withheld))
    span.set("answer.citations", len(answer.citations))
    span.set("answer.support_score", answer.support_score)
    span.set("answer.quoted", answer.quoted)
