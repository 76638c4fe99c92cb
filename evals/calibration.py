"""How accurate is each support judge? Balanced accuracy, precision, recall and F1 on
held-out labelled pairs, per data set and per domain.

Every judge is run through the same ``SupportJudge`` interface the answer path uses. A
labelled pair becomes claims exactly as an answer does: each sentence of a SummEdits summary
is a claim citing the document, a HaluEval answer is one claim citing its knowledge passage.
A pair is judged supported when all its claims are, and its score is the lowest claim score.

Precision, recall and F1 treat **unsupported** as the positive class: they measure how well a
judge catches unsupported text, which is the grounding check's job. Balanced accuracy is the
mean of the recalls of both classes (0.5 for a constant or random judge).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from sklearn.metrics import (  # type: ignore[import-untyped]
    balanced_accuracy_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from evals.judge_data import SUMMEDITS, LabelledPair
from generation.grounding import Claim, SupportJudge
from generation.sentences import sentences
from retrieval.context import Source

ALL_DOMAINS = "all"


def claim_texts(pair: LabelledPair) -> list[str]:
    """The claims a pair is judged as: a summary's sentences, or the whole claim."""
    if pair.dataset == SUMMEDITS:
        return sentences(pair.claim) or [pair.claim]
    return [pair.claim]


def pair_claims(pair: LabelledPair) -> list[Claim]:
    """The pair's claims, each citing the pair's evidence as source ``[1]``."""
    source = Source(
        number=1,
        doc_id=pair.group,
        chunk_ids=(pair.pair_id,),
        title=pair.heading,
        source_uri=f"{pair.dataset}:{pair.pair_id}",
        text=pair.evidence,
        score=1.0,
        token_count=len(pair.evidence.split()),
    )
    return [Claim(text=text, sources=(source,)) for text in claim_texts(pair)]


@dataclass(frozen=True)
class PairOutcome:
    """A judge's finding on one labelled pair."""

    pair_id: str
    dataset: str
    domain: str
    label: bool
    supported: bool
    score: float


def run_judge(
    judge: SupportJudge,
    pairs: Sequence[LabelledPair],
    *,
    pairs_per_call: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[PairOutcome]:
    """Judge every pair; ``pairs_per_call`` pairs' claims go to the judge in one call (1 for an
    LLM judge: one call per pair, like one call per answer). ``progress`` gets pair counts."""
    outcomes: list[PairOutcome] = []
    for start in range(0, len(pairs), pairs_per_call):
        batch = pairs[start : start + pairs_per_call]
        claims = [pair_claims(pair) for pair in batch]
        supports = judge.judge([claim for group in claims for claim in group])
        offset = 0
        for pair, group in zip(batch, claims, strict=True):
            found = supports[offset : offset + len(group)]
            offset += len(group)
            outcomes.append(
                PairOutcome(
                    pair_id=pair.pair_id,
                    dataset=pair.dataset,
                    domain=pair.domain,
                    label=pair.label,
                    supported=all(s.supported for s in found),
                    score=min(s.score for s in found),
                )
            )
        if progress is not None:
            progress(len(batch))
    return outcomes


@dataclass(frozen=True)
class JudgeMetrics:
    """Agreement of verdicts with labels; P/R/F1 with unsupported as the positive class.

    ``auc`` ranks by score (None when one class is absent or scores are all binary ties).
    """

    n: int
    supported: int
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float | None


def judge_metrics(
    labels: Sequence[bool], predicted: Sequence[bool], scores: Sequence[float] | None = None
) -> JudgeMetrics:
    """Metrics of ``predicted`` supported-verdicts against ``labels`` (True = supported)."""
    if len(labels) != len(predicted) or not labels:
        raise ValueError("labels and predictions must be non-empty and of equal length")
    truth = [not label for label in labels]  # positive class: unsupported
    guess = [not p for p in predicted]
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, guess, average="binary", pos_label=True, zero_division=0.0
    )
    both_classes = len(set(labels)) == 2
    balanced = float(balanced_accuracy_score(truth, guess)) if both_classes else float("nan")
    auc = None
    if both_classes and scores is not None and len(set(scores)) > 2:
        auc = float(roc_auc_score(list(labels), list(scores)))
    return JudgeMetrics(
        n=len(labels),
        supported=sum(labels),
        balanced_accuracy=balanced,
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        auc=auc,
    )


def best_threshold(
    outcomes_by_set: Sequence[Sequence[PairOutcome]], *, steps: int = 199
) -> tuple[float, float]:
    """The score threshold (supported when ``score >= t``) maximising the mean balanced
    accuracy over the given sets, and that mean. Meant for validation splits only."""
    best, best_value = 0.5, -1.0
    for step in range(1, steps + 1):
        threshold = step / (steps + 1)
        values = [
            balanced_accuracy_score(
                [o.label for o in outcomes], [o.score >= threshold for o in outcomes]
            )
            for outcomes in outcomes_by_set
            if len({o.label for o in outcomes}) == 2
        ]
        value = sum(values) / len(values) if values else 0.0
        if value > best_value:
            best, best_value = threshold, float(value)
    return best, best_value


Report = dict[str, dict[str, dict[str, JudgeMetrics]]]
"""judge → data set → domain (or ``all``) → metrics."""


def report(outcomes: Mapping[str, Sequence[PairOutcome]]) -> Report:
    """Metrics per judge, per data set, per domain and over all its domains."""
    result: Report = {}
    for judge, found in outcomes.items():
        by_set: dict[str, list[PairOutcome]] = defaultdict(list)
        for outcome in found:
            by_set[outcome.dataset].append(outcome)
        result[judge] = {}
        for dataset, rows in sorted(by_set.items()):
            by_domain: dict[str, list[PairOutcome]] = defaultdict(list)
            for outcome in rows:
                by_domain[outcome.domain].append(outcome)
            groups = {**dict(sorted(by_domain.items()))}
            if len(by_domain) > 1:
                groups[ALL_DOMAINS] = rows
            result[judge][dataset] = {
                domain: judge_metrics(
                    [o.label for o in group], [o.supported for o in group], [o.score for o in group]
                )
                for domain, group in groups.items()
            }
    return result


def report_json(result: Report, **extra: object) -> str:
    """The report as indented JSON, with ``extra`` top-level fields (sizes, commands...)."""
    judges = {
        judge: {
            dataset: {domain: asdict(m) for domain, m in domains.items()}
            for dataset, domains in sets.items()
        }
        for judge, sets in result.items()
    }
    return json.dumps({**extra, "judges": judges}, indent=2) + "\n"


def report_markdown(result: Report) -> str:
    """One table: a row per judge, data set and domain."""
    lines = [
        "| judge | set | domain | n | supported | balanced acc. | precision | recall | F1 | AUC |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for judge, sets in result.items():
        for dataset, domains in sets.items():
            for domain, m in domains.items():
                name = f"**{domain}**" if domain == ALL_DOMAINS else domain
                auc = "-" if m.auc is None else f"{m.auc:.3f}"
                lines.append(
                    f"| {judge} | {dataset} | {name} | {m.n} | {m.supported} | "
                    f"{m.balanced_accuracy:.3f} | {m.precision:.3f} | {m.recall:.3f} | "
                    f"{m.f1:.3f} | {auc} |"
                )
    return "\n".join(lines) + "\n"
