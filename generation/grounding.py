"""The grounding check: is each answer sentence supported by the sources it cites?

``SupportJudge`` is the pluggable part. ``LexicalEmbeddingJudge`` is the fast provisional
judge shipped until a trained one exists. What it is, honestly: a similarity heuristic, not
entailment. It catches claims whose words, meaning or figures are absent from the cited text
(a changed amount, an invented date, a citation to the wrong source); it cannot see a
negation or a reversed relation that uses the same words ("must" vs "must not").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from generation.abstention import is_decline
from generation.answer_types import SentenceKind, SentenceVerdict
from generation.citations import AnswerSentence, ParsedAnswer
from generation.meta_sentences import is_pointer
from generation.sentences import sentences
from generation.similarity import cosine_matrix, facts, names, term_coverage, terms, words
from generation.subject_check import (
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_MISSING,
    figure_subject_mismatches,
)
from retrieval.context import Context, Source
from retrieval.embedder import Embedder

_PLEASANTRY = re.compile(
    r"^(?:(?:i )?hope (?:this|that) helps|let me know|feel free to)\b"
    r"|^(?:sure|certainly|of course|okay|ok)\W*$",
    re.IGNORECASE,
)


class Claim(BaseModel):
    """An answer sentence (markers removed) and the sources it cites."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    sources: tuple[Source, ...]


class Support(BaseModel):
    """A judge's finding for one claim. ``score`` is in ``[0, 1]``, higher is better."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    supported: bool
    score: float = Field(ge=0.0, le=1.0)
    reason: str
    evidence: str = ""
    """The cited text that matched the claim best."""


class SupportJudge(Protocol):
    """Decides whether cited sources support claims. Takes a batch: one call per answer."""

    def judge(self, claims: Sequence[Claim]) -> list[Support]:
        """One ``Support`` per claim, in order."""
        ...


@runtime_checkable
class WarmableJudge(SupportJudge, Protocol):
    """A judge with a model to load (the trained cross-encoder, an LLM judge)."""

    def warm_up(self) -> None:
        """Load the model now rather than on the first answer."""
        ...


class LexicalEmbeddingJudge:
    """Embedding similarity plus word overlap, with a strict check on figures.

    For each claim:

    - ``similarity``: the highest cosine similarity between the claim and any sentence of
      its cited sources (through ``Embedder.embed_documents``);
    - ``overlap``: the share of the claim's content words found in the cited sources'
      headings and text;
    - ``score = similarity_weight * similarity + (1 - similarity_weight) * overlap``.

    A claim is supported when ``score >= support_threshold`` and ``overlap >= min_overlap``
    and, with ``check_facts``, every number, amount, time, month and proper name it states
    appears in the cited text (a failed fact check gives score 0), and, with
    ``check_subject``, each figure found there is about what the claim says it is about:
    most of the claim's words near the figure occur near the same figure in the cited text
    or in its headings (``generation.subject_check``; "The signing bonus is 3.85%" citing
    "awards of up to 3.85% of salary" is unsupported). The subject check applies only below
    ``subject_max_similarity``: a claim that close to a cited sentence is a paraphrase of
    it, whose reworded subject is a synonym far more often than another subject (held-out
    SummEdits lost 2.5 points of balanced accuracy without the gate, 1.3 with it; see
    evals/RESULTS.md). A failed subject check
    caps the score below the threshold, at ``support_threshold * coverage``.

    Defaults, to be calibrated by evals: ``similarity_weight=0.5``; ``support_threshold=0.5``
    (all-MiniLM-L6-v2 paraphrases of a source sentence score about 0.7-0.9, topical but
    different statements 0.3-0.5); ``min_overlap=0.3`` (so an embedding match alone, without
    shared words, does not pass).
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        similarity_weight: float = 0.5,
        support_threshold: float = 0.5,
        min_overlap: float = 0.3,
        check_facts: bool = True,
        check_subject: bool = True,
        subject_min_coverage: float = DEFAULT_MIN_COVERAGE,
        subject_min_missing: int = DEFAULT_MIN_MISSING,
        subject_max_similarity: float = 0.7,
    ) -> None:
        if not 0.0 <= similarity_weight <= 1.0:
            raise ValueError("similarity_weight must be within [0, 1]")
        self._embedder = embedder
        self._weight = similarity_weight
        self._threshold = support_threshold
        self._min_overlap = min_overlap
        self._check_facts = check_facts
        self._check_subject = check_subject
        self._subject_min_coverage = subject_min_coverage
        self._subject_min_missing = subject_min_missing
        self._subject_max_similarity = subject_max_similarity

    def judge(self, claims: Sequence[Claim]) -> list[Support]:
        """Judge a whole answer's claims with one embedding batch."""
        per_claim = [_evidence_sentences(claim.sources) for claim in claims]
        all_sentences = list(dict.fromkeys(s for group in per_claim for s in group))
        texts = [claim.text for claim in claims]
        similarity = cosine_matrix(self._embedder, texts, all_sentences)
        column = {sentence: i for i, sentence in enumerate(all_sentences)}
        results: list[Support] = []
        for claim, group, row in zip(claims, per_claim, similarity, strict=True):
            scored = [(row[column[s]], s) for s in group]
            best_similarity, best = max(scored, default=(0.0, ""), key=lambda pair: pair[0])
            results.append(self._decide(claim, max(best_similarity, 0.0), best))
        return results

    def _decide(self, claim: Claim, similarity: float, evidence: str) -> Support:
        if not claim.sources:
            return Support(supported=False, score=0.0, reason="cites no source")
        cited_text = "\n".join(f"{s.heading}\n{s.text}" for s in claim.sources)
        overlap = term_coverage(terms(claim.text), terms(cited_text))
        score = self._weight * similarity + (1 - self._weight) * overlap
        measured = f"similarity {similarity:.2f}, overlap {overlap:.2f}"
        if self._check_facts:
            missing = sorted(facts(claim.text, word_one=False) - facts(cited_text))
            # A name the sources never mention ("the Berlin office") makes a claim about
            # something else, however close the wording: small models transplant facts.
            missing += sorted(names(claim.text) - words(cited_text))
            if missing:
                shown = ", ".join(m.removeprefix("month:") for m in missing)
                return Support(
                    supported=False,
                    score=0.0,
                    reason=f"not in the cited text: {shown} ({measured})",
                    evidence=evidence,
                )
        if self._check_subject and similarity < self._subject_max_similarity:
            mismatches = figure_subject_mismatches(
                claim.text,
                "\n".join(s.text for s in claim.sources),
                headings=[s.heading for s in claim.sources],
                min_coverage=self._subject_min_coverage,
                min_missing=self._subject_min_missing,
            )
            if mismatches:
                worst = min(mismatches, key=lambda m: m.coverage)
                return Support(
                    supported=False,
                    score=min(max(score, 0.0), self._threshold * worst.coverage),
                    reason=f"{'; '.join(m.reason for m in mismatches)} ({measured})",
                    evidence=evidence,
                )
        supported = score >= self._threshold and overlap >= self._min_overlap
        verdict = "supported" if supported else "weak support"
        return Support(
            supported=supported,
            score=min(max(score, 0.0), 1.0),
            reason=f"{verdict}: {measured}",
            evidence=evidence,
        )


def _evidence_sentences(sources: Sequence[Source]) -> list[str]:
    return [sentence for source in sources for sentence in sentences(source.text)]


def is_non_factual(claim: str) -> bool:
    """True for sentences that assert nothing checkable: no content words or figures, a
    question, a lead-in ending with a colon, a closing pleasantry, or a pointer to where
    something is written ("This is stated in the IT Handbook [4]": see ``meta_sentences``)."""
    text = claim.strip()
    if is_pointer(text):
        return True
    if not terms(text) and not facts(text):
        return True
    if text.endswith("?"):
        return True
    if text.endswith(":") and not facts(text):
        return True
    return bool(_PLEASANTRY.match(text))


@dataclass(frozen=True)
class GroundingReport:
    """The verdicts on an answer and its text after the check.

    ``text`` equals the parsed answer's text unless unsupported sentences were removed;
    ``kept`` lists the sentences still in it (citations are resolved from these).
    ``support_score`` is the share of claim sentences that are supported (0 without claims).
    """

    text: str
    verdicts: tuple[SentenceVerdict, ...]
    support_score: float
    kept: tuple[AnswerSentence, ...]


def check_answer(
    parsed: ParsedAnswer,
    context: Context,
    judge: SupportJudge,
    *,
    remove_unsupported: bool = False,
) -> GroundingReport:
    """Judge every sentence of ``parsed`` against the sources it cites.

    Declines and non-factual sentences need no support. A claim without a citation is
    unsupported. Unsupported claims are flagged in the verdicts; with ``remove_unsupported``
    they are also cut from the text.
    """
    kinds = [_kind(s) for s in parsed.sentences]
    to_judge = [
        (i, Claim(text=s.claim, sources=_sources(context, s.cited)))
        for i, (s, kind) in enumerate(zip(parsed.sentences, kinds, strict=True))
        if kind is SentenceKind.CLAIM and s.cited
    ]
    judged = dict(zip((i for i, _ in to_judge), judge.judge([c for _, c in to_judge]), strict=True))
    verdicts: list[SentenceVerdict] = []
    for i, (sentence, kind) in enumerate(zip(parsed.sentences, kinds, strict=True)):
        support = judged.get(i) or _unjudged(kind)
        verdicts.append(
            SentenceVerdict(
                sentence=sentence.text,
                span=sentence.span,
                cited=sentence.cited,
                kind=kind,
                supported=support.supported,
                score=support.score,
                reason=support.reason,
                evidence=support.evidence,
            )
        )
    claims = [v for v in verdicts if v.kind is SentenceKind.CLAIM]
    score = sum(v.supported for v in claims) / len(claims) if claims else 0.0
    keep = [
        not (remove_unsupported and v.kind is SentenceKind.CLAIM and not v.supported)
        for v in verdicts
    ]
    removed = [s.span for s, k in zip(parsed.sentences, keep, strict=True) if not k]
    return GroundingReport(
        text=_remove_spans(parsed.text, removed),
        verdicts=tuple(verdicts),
        support_score=score,
        kept=tuple(s for s, k in zip(parsed.sentences, keep, strict=True) if k),
    )


def _kind(sentence: AnswerSentence) -> SentenceKind:
    if is_decline(sentence.claim):
        return SentenceKind.ABSTENTION
    if is_non_factual(sentence.claim):
        return SentenceKind.NON_FACTUAL
    return SentenceKind.CLAIM


def _unjudged(kind: SentenceKind) -> Support:
    if kind is SentenceKind.ABSTENTION:
        return Support(supported=True, score=1.0, reason="says the sources lack the answer")
    if kind is SentenceKind.NON_FACTUAL:
        return Support(supported=True, score=1.0, reason="not a factual claim")
    return Support(supported=False, score=0.0, reason="cites no source")


def _sources(context: Context, numbers: Sequence[int]) -> tuple[Source, ...]:
    return tuple(s for n in numbers if (s := context.source(n)) is not None)


def _remove_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Cut ``spans`` out of ``text``; a line left empty goes too, spacing stays tidy."""
    for span in sorted(spans, reverse=True):
        start, end = span
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        if not (text[line_start:start] + text[end:line_end]).strip():
            # The sentence was the whole line: drop the line and one line break.
            text = text[:line_start] + text[line_end + 1 :]
            continue
        if text[end:line_end].strip():
            end += len(text[end:line_end]) - len(text[end:line_end].lstrip(" \t"))
        else:
            start = line_start + len(text[line_start:start].rstrip(" \t"))
        text = text[:start] + text[end:]
    return text.strip()
