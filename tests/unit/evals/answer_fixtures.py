"""Constructed answers with known grounding, and a judge that knows which claims hold."""

from __future__ import annotations

from collections.abc import Sequence

from generation.answer_types import Answer, SentenceKind, SentenceVerdict
from generation.grounding import Claim, Support
from retrieval.context import Source

VACATION = "Employees accrue 1.75 days of paid vacation per month."
PARENTAL = "Parental leave is 18 weeks, fully paid."
SOURCE_1 = Source(
    number=1,
    doc_id="d1",
    chunk_ids=("c1",),
    title="Leave policy",
    source_uri="file:///corpus/policies/leave-policy.md",
    text=VACATION,
    score=0.9,
    token_count=12,
)
SOURCE_2 = Source(
    number=2,
    doc_id="d2",
    chunk_ids=("c2",),
    title="Parental leave",
    source_uri="file:///corpus/policies/parental.md",
    text=PARENTAL,
    score=0.8,
    token_count=10,
)


def claim(sentence: str, cited: tuple[int, ...]) -> SentenceVerdict:
    return SentenceVerdict(
        sentence=sentence,
        span=(0, len(sentence)),
        cited=cited,
        kind=SentenceKind.CLAIM,
        supported=True,
        score=1.0,
        reason="",
    )


def answer(*verdicts: SentenceVerdict, abstained: bool = False) -> Answer:
    return Answer(
        question="q",
        text=" ".join(v.sentence for v in verdicts) or "I couldn't find this.",
        verdicts=verdicts,
        sources=(SOURCE_1, SOURCE_2),
        abstained=abstained,
    )


class OracleJudge:
    """Supported exactly when some cited source's text states the claim (marker-free)."""

    def __init__(self) -> None:
        self.calls: list[Claim] = []

    def judge(self, claims: Sequence[Claim]) -> list[Support]:
        self.calls.extend(claims)
        return [
            Support(
                supported=any(c.text.rstrip(".") in s.text for s in c.sources),
                score=1.0 if any(c.text.rstrip(".") in s.text for s in c.sources) else 0.0,
                reason="oracle",
            )
            for c in claims
        ]
