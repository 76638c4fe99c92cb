"""Generation's own models: chat requests and results, citations, verdicts and the answer.

Frozen pydantic models, no third-party types: backends translate their vendor objects into
these, and the API and evals read an ``Answer`` without knowing which LLM produced it.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import uuid4

from pydantic import Field, JsonValue

from core.models import FrozenModel
from retrieval.context import Source


class Role(StrEnum):
    """Who speaks a chat message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class ChatMessage(FrozenModel):
    """One message of a chat conversation."""

    role: Role
    content: str


class GenerationRequest(FrozenModel):
    """What a ``Generator`` is asked to do.

    ``json_schema``, when given, asks the backend to constrain the output to that JSON schema
    (each backend translates it to its own structured-output option).
    """

    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: tuple[str, ...] = ()
    json_schema: dict[str, JsonValue] | None = None


class FinishReason(StrEnum):
    """Why generation ended."""

    STOP = "stop"
    """The model finished or hit a stop sequence."""
    LENGTH = "length"
    """``max_tokens`` or the context window ran out: the text may be cut mid-sentence."""
    OTHER = "other"
    """Anything else a backend reports (content filter, tool call...)."""


class GenerationTimings(FrozenModel):
    """Wall-clock seconds of one generation, as measured by the backend."""

    total_s: float = Field(ge=0.0)
    first_token_s: float | None = Field(default=None, ge=0.0)
    prompt_eval_s: float | None = Field(default=None, ge=0.0)


class GenerationResult(FrozenModel):
    """The text a ``Generator`` produced, with token usage and timings."""

    text: str
    finish_reason: FinishReason = FinishReason.STOP
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    timings: GenerationTimings = GenerationTimings(total_s=0.0)
    model: str | None = None


class Citation(FrozenModel):
    """Source ``[number]`` as cited by the answer, with where to find it and a supporting quote.

    ``quote`` is the passage sentence that best supports the answer sentences citing this
    source; ``quote_span`` is its ``(start, end)`` character offsets in the source's text.
    """

    number: int = Field(ge=1)
    doc_id: str
    chunk_ids: tuple[str, ...]
    title: str
    source_uri: str
    section_path: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    quote: str = ""
    quote_span: tuple[int, int] | None = None


class DroppedMarker(FrozenModel):
    """A citation marker (or part of one) that was removed from the answer."""

    marker: str
    """The marker as the model wrote it, e.g. ``[7]`` or ``[2-9]``."""
    numbers: tuple[int, ...] = ()
    """The numbers that were dropped; empty when the marker could not be read at all."""
    reason: str


class SentenceKind(StrEnum):
    """What an answer sentence is, which decides whether it needs support."""

    CLAIM = "claim"
    """States something that must be supported by the sources it cites."""
    NON_FACTUAL = "non_factual"
    """A lead-in, question or pleasantry: it asserts nothing to check."""
    ABSTENTION = "abstention"
    """Says the sources do not hold the answer."""


class SentenceVerdict(FrozenModel):
    """The grounding check's finding for one answer sentence.

    ``span`` is the sentence's ``(start, end)`` in the checked answer text (before any
    unsupported sentence was removed). ``evidence`` is the cited text that matched best.
    """

    sentence: str
    span: tuple[int, int]
    cited: tuple[int, ...] = ()
    kind: SentenceKind = SentenceKind.CLAIM
    supported: bool
    score: float = Field(ge=0.0, le=1.0)
    reason: str
    evidence: str = ""
    attributed: bool = False
    """The model cited nothing here; the check cited the source that supports the sentence."""
    relevance: float | None = Field(default=None, ge=0.0, le=1.0)
    """How closely a supported claim addresses the question (``AnswerRelevance``); None when
    not scored."""


class AbstainReason(StrEnum):
    """Why an answer abstained."""

    NO_SOURCES = "no_sources"
    """Retrieval found nothing the caller may read."""
    WEAK_RETRIEVAL = "weak_retrieval"
    """The best source is too far from the question to answer it."""
    MODEL_DECLINED = "model_declined"
    """The model said the sources do not hold the answer."""
    UNSUPPORTED = "unsupported"
    """The grounding check found no supported claim in the model's answer."""
    OFF_QUESTION = "off_question"
    """Claims held, but none of them answers the question that was asked."""


class WithheldStatement(FrozenModel):
    """A sentence of the model's answer that the reader is not shown, and why.

    Under ``answer.unsupported: withhold`` (the default) an unsupported claim is cut from the
    answer text and listed here, so a client can say "1 statement was withheld because the
    sources don't support it" and show it on request.
    """

    sentence: str
    cited: tuple[int, ...] = ()
    reason: str


class Answer(FrozenModel):
    """A grounded answer: text with ``[n]`` markers, its citations and per-sentence verdicts.

    When ``abstained``, ``text`` is the standard abstention sentence, ``citations`` is empty
    and ``sources`` holds the closest sources found, for the reader to look at. Otherwise
    ``sources`` is the numbered context the model saw, so every ``[n]`` resolves in it.
    ``model_text`` keeps the model's raw output (useful to evals when the answer abstained or
    sentences were withheld); ``withheld`` lists the sentences cut from ``text``.
    ``answer_id`` names this answer: feedback on it refers to it.
    """

    answer_id: str = Field(
        default_factory=lambda: uuid4().hex,
        description="Unique id of this answer; `POST /v1/feedback` refers to it.",
    )
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    verdicts: tuple[SentenceVerdict, ...] = ()
    support_score: float = Field(default=0.0, ge=0.0, le=1.0)
    abstained: bool = False
    abstain_reason: AbstainReason | None = None
    dropped_markers: tuple[DroppedMarker, ...] = ()
    sources: tuple[Source, ...] = ()
    withheld: tuple[WithheldStatement, ...] = Field(
        default=(),
        description="Statements of the model's answer cut from `text` because the sources do "
        "not support them (empty under `answer.unsupported: flag`).",
    )
    quoted: bool = Field(
        default=False,
        description="The model declined or its answering sentence was withheld, but a source "
        "passage addresses the question: `text` quotes that passage verbatim, with its citation.",
    )
    unanswered_parts: tuple[str, ...] = Field(
        default=(),
        description="For a question of several parts, the parts no statement of `text` "
        "answers (the sources, or the model, gave nothing that holds for them).",
    )
    model_text: str | None = None
    prompt_id: str | None = None
    retrieval_similarity: float | None = Field(
        default=None,
        description="Dense cosine similarity of the closest source the caller may read (null "
        "when not measured: nothing found, or answer.min_retrieval_similarity off).",
    )
    timings: dict[str, float] = Field(default_factory=dict)
    prompt_tokens: int = Field(
        default=0, ge=0, description="Tokens of the answer prompt (0 when none was sent)."
    )
    completion_tokens: int = Field(default=0, ge=0, description="Tokens the model wrote.")

    @property
    def flagged(self) -> tuple[SentenceVerdict, ...]:
        """The verdicts of claims the grounding check found unsupported."""
        return tuple(v for v in self.verdicts if v.kind is SentenceKind.CLAIM and not v.supported)
