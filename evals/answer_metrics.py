"""Per-answer metrics: correctness, grounding, ALCE-style citation quality, abstention.

Everything here is computed from a checked ``Answer`` (its sentences, their citation numbers
and its numbered sources) plus a ``SupportJudge``: the same interface the answer path uses, so
any judge (lexical, the trained cross-encoder, an LLM) can grade any run.

Definitions:

- **hallucinated**: at least one claim sentence is not supported by the sources it cites
  (an uncited claim is judged against all the sources the answer shows);
- **faithfulness**: the share of claim sentences that are supported;
- **citation recall** (ALCE): the share of claim sentences whose cited sources, together,
  support them (a sentence citing nothing scores 0);
- **citation precision** (ALCE): the share of citations that are not *irrelevant*; a citation
  is irrelevant when it does not support its sentence alone and the sentence stays supported
  without it; every citation of a sentence its sources do not support counts as imprecise;
- **token F1** (SQuAD normalisation) and **semantic similarity** (cosine of the embedder's
  vectors) against the reference answer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from generation.answer_types import Answer, SentenceKind
from generation.grounding import Claim, SupportJudge
from retrieval.context import Source
from retrieval.embedder import Embedder

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,-]\s*\d+)*\]")


class SentenceGrade(BaseModel):
    """One claim sentence as a judge graded it."""

    model_config = ConfigDict(frozen=True)

    sentence: str
    cited: tuple[int, ...]
    supported: bool
    score: float
    reason: str
    citations_precise: int = 0


class GroundingGrade(BaseModel):
    """A judge's verdict on one answer's claims and citations."""

    model_config = ConfigDict(frozen=True)

    judge: str
    sentences: tuple[SentenceGrade, ...]
    hallucinated: bool
    faithfulness: float | None
    citation_recall: float | None
    citation_precision: float | None


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = _MARKERS.sub("", text).lower()
    text = "".join(c for c in text if c not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between a prediction and a reference answer."""
    predicted, expected = normalize(prediction).split(), normalize(reference).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected or common == 0:
        return float(predicted == expected)
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def semantic_similarity(embedder: Embedder, prediction: str, reference: str) -> float:
    """Cosine similarity of the two texts' embeddings (clipped at 0)."""
    left, right = embedder.embed_documents([_MARKERS.sub("", prediction), reference])
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    norm = (sum(a * a for a in left) ** 0.5) * (sum(b * b for b in right) ** 0.5)
    return max(0.0, dot / norm) if norm else 0.0


@dataclass(frozen=True)
class _Probe:
    """One judge question: does ``sources`` support sentence ``index``?"""

    index: int
    sources: tuple[Source, ...]


def grade_grounding(answer: Answer, judge: SupportJudge, judge_name: str) -> GroundingGrade:
    """Judge every claim sentence of ``answer`` and its citations, in one judge call.

    An abstention has no claims: it is never a hallucination, and its rates are None.
    """
    claims = [v for v in answer.verdicts if v.kind is SentenceKind.CLAIM]
    if answer.abstained or not claims:
        return GroundingGrade(
            judge=judge_name,
            sentences=(),
            hallucinated=False,
            faithfulness=None,
            citation_recall=None,
            citation_precision=None,
        )
    by_number = {s.number: s for s in answer.sources}
    probes: list[_Probe] = []
    for i, verdict in enumerate(claims):
        cited = tuple(by_number[n] for n in verdict.cited if n in by_number)
        probes.append(_Probe(i, cited or tuple(answer.sources)))
        if len(cited) > 1:  # ALCE precision: each citation alone, and the others without it
            for source in cited:
                probes.append(_Probe(i, (source,)))
                probes.append(_Probe(i, tuple(s for s in cited if s is not source)))
    texts = [_MARKERS.sub("", v.sentence).strip() for v in claims]
    supports = judge.judge([Claim(text=texts[p.index], sources=p.sources) for p in probes])
    results = iter(zip(probes, supports, strict=True))
    grades: list[SentenceGrade] = []
    for i, verdict in enumerate(claims):
        _, joint = next(results)
        cited_count = len([n for n in verdict.cited if n in by_number])
        precise = cited_count if joint.supported else 0
        if cited_count > 1:
            for _ in range(cited_count):
                (_, alone), (_, rest) = next(results), next(results)
                if joint.supported and not alone.supported and rest.supported:
                    precise -= 1
        grades.append(
            SentenceGrade(
                sentence=texts[i],
                cited=verdict.cited,
                supported=joint.supported,
                score=joint.score,
                reason=joint.reason,
                citations_precise=precise,
            )
        )
    return _summarise(judge_name, grades)


def _summarise(judge_name: str, grades: Sequence[SentenceGrade]) -> GroundingGrade:
    supported = [g.supported for g in grades]
    citations = sum(len(g.cited) for g in grades)
    recall = [g.supported and bool(g.cited) for g in grades]
    return GroundingGrade(
        judge=judge_name,
        sentences=tuple(grades),
        hallucinated=not all(supported),
        faithfulness=sum(supported) / len(supported),
        citation_recall=sum(recall) / len(recall),
        citation_precision=(
            sum(g.citations_precise for g in grades) / citations if citations else None
        ),
    )
