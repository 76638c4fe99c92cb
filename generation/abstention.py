"""When to answer "not found" instead: weak retrieval, a declining model, nothing supported.

The standard abstention sentence is also the exact sentence the answer prompt tells the
model to reply with, so a model that follows the rule produces the standard answer verbatim.
Smaller models paraphrase it ("The sources do not mention...", "I don't know"), so declines
are recognised by a few patterns over a normalised sentence, not by exact match only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generation.answer_types import (
    AbstainReason,
    Answer,
    DroppedMarker,
    SentenceKind,
    SentenceVerdict,
)
from retrieval.context import Context, Source

ABSTENTION_ANSWER = "I couldn't find this in the available documents."
"""The answer text of every abstention, and the sentence the model is told to reply with."""

_MARKER = re.compile(r"\[[^\[\]]{0,20}\]")
_CONTRACTIONS = (
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
)
_NOUN = r"(?:documents?|sources?|context|information|texts?|passages?|excerpts?|materials?)"
_ADJ = r"(?:(?:the|these|those|any|of|available|provided|given|supplied|above|retrieved) )*"
_DECLINES = tuple(
    re.compile(pattern)
    for pattern in (
        # "I could not find / don't know / cannot answer ..."
        r"\b(?:i|we) (?:(?:could|can|do|did|am|are|was|were) )?(?:not|unable to) "
        r"(?:(?:be able to|able to|seem to) )?(?:find|locate|know|answer|determine|tell|say|see)\b",
        r"\b(?:i|we) (?:do|did) not have (?:any |enough |the )?(?:information|details|data)\b",
        # "... is not mentioned in the provided sources", "not in the documents"
        rf"\bnot (?:\w+ )?(?:found|mentioned|covered|available|provided|included|stated|"
        rf"specified|contained|addressed|given|described|listed|discussed|present) "
        rf"(?:anywhere )?(?:in|by|within) {_ADJ}{_NOUN}\b",
        rf"\bnot (?:in|within|part of) {_ADJ}{_NOUN}\b",
        # "The provided sources do not contain / mention ..."
        rf"\b{_ADJ}{_NOUN}(?: provided| given| available| above| here)? (?:does|do|did) not "
        r"(?:contain|mention|include|provide|say|specify|cover|address|state|describe|discuss|"
        r"answer|have|give|hold)\b",
        r"\bthere (?:is|are|was|were) no (?:relevant |specific )?"
        r"(?:information|mention|details?|data|answer)\b",
        r"\bno (?:relevant |specific )?(?:information|details|answer) (?:is |was )?"
        r"(?:available|provided|found|given)\b",
        r"\b(?:unable|not able) to (?:find|locate|answer|determine)\b",
    )
)


def normalise_sentence(sentence: str) -> str:
    """Lower case, straight apostrophes, contractions spelled out, markers and spacing gone."""
    text = sentence.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = _MARKER.sub(" ", text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split()).strip(" .!")


_STANDARD = normalise_sentence(ABSTENTION_ANSWER)


def is_decline(sentence: str) -> bool:
    """True when ``sentence`` says the sources (or the model) do not have the answer."""
    text = normalise_sentence(sentence)
    return text == _STANDARD or any(p.search(text) for p in _DECLINES)


@dataclass(frozen=True)
class AbstentionPolicy:
    """Decides when to abstain, and builds the abstaining answer.

    Defaults:

    - ``min_retrieval_similarity`` (0.3): abstain before generation when the best source's
      dense cosine similarity to the question is below this. Calibrated with
      all-MiniLM-L6-v2 by bench/abstention_threshold.py: the answerable sample questions
      score 0.40-0.84 (none below 0.3), while 63% of SEC 10-Q questions and 99.7% of
      SciFact claims asked of the sample corpus score below 0.3. On-topic questions the
      documents don't answer score like answerable ones; those are left to the model and
      the grounding check. ``None`` turns the check off.
    - ``min_support_score`` (0.0): after the grounding check, abstain when the share of
      supported claims is below this. At 0.0 the answer abstains only when no claim at all
      is supported.
    - ``closest_sources`` (3): how many of the best sources an abstaining answer lists.
    """

    min_retrieval_similarity: float | None = 0.3
    min_support_score: float = 0.0
    closest_sources: int = 3

    def before_generation(
        self, context: Context, retrieval_similarity: float | None
    ) -> AbstainReason | None:
        """Abstain without calling the model: no sources, or the best one is too far off.

        ``retrieval_similarity`` is the dense cosine similarity between the question and the
        best source (not a fused rank score); ``None`` when the caller has none.
        """
        if not context.sources:
            return AbstainReason.NO_SOURCES
        threshold = self.min_retrieval_similarity
        if (
            threshold is not None
            and retrieval_similarity is not None
            and retrieval_similarity < threshold
        ):
            return AbstainReason.WEAK_RETRIEVAL
        return None

    def after_check(
        self, verdicts: Sequence[SentenceVerdict], support_score: float
    ) -> AbstainReason | None:
        """Abstain after generation: the model declined, or too little of its answer holds.

        A model that declines and adds claims nothing supports counts as declining; one that
        declines in part but makes supported claims keeps its (partial) answer.
        """
        supported = [v for v in verdicts if v.kind is SentenceKind.CLAIM and v.supported]
        declined = any(v.kind is SentenceKind.ABSTENTION for v in verdicts)
        if not supported:
            return AbstainReason.MODEL_DECLINED if declined else AbstainReason.UNSUPPORTED
        if support_score < self.min_support_score:
            return AbstainReason.UNSUPPORTED
        return None

    def abstain(
        self,
        question: str,
        reason: AbstainReason,
        sources: Sequence[Source],
        *,
        verdicts: Sequence[SentenceVerdict] = (),
        support_score: float = 0.0,
        dropped_markers: Sequence[DroppedMarker] = (),
        model_text: str | None = None,
        prompt_id: str | None = None,
        timings: Mapping[str, float] | None = None,
    ) -> Answer:
        """The standard "not found" answer with the closest sources, flagged ``abstained``.

        The model's text and verdicts, when there were any, are kept for evals and logs; the
        answer itself cites nothing.
        """
        return Answer(
            question=question,
            text=ABSTENTION_ANSWER,
            abstained=True,
            abstain_reason=reason,
            sources=tuple(sources[: self.closest_sources]),
            verdicts=tuple(verdicts),
            support_score=support_score,
            dropped_markers=tuple(dropped_markers),
            model_text=model_text,
            prompt_id=prompt_id,
            timings=dict(timings or {}),
        )
