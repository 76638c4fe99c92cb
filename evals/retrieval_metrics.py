"""Standard IR metrics over document runs, computed by trec_eval (``pytrec_eval``).

A *run* maps each query id to ``{document key: score}``, higher is better; *qrels* map each
query id to ``{document key: relevance grade}`` (grade > 0 is relevant). Metric names:

- ``ndcg@k``: trec_eval's ``ndcg_cut_k`` (linear gains = the grades, log2 discount);
- ``recall@k``: relevant documents in the top k / all relevant documents;
- ``precision@k``: relevant documents in the top k / k;
- ``mrr@k``: 1 / rank of the first relevant document within the top k, else 0 (``mrr``
  without a cutoff looks at the whole run).

trec_eval (what BEIR reports with) ranks a run by score, breaking ties by document key in
*descending* order; give distinct scores to keep an engine's own order (``rank_scores``).
Every query of the qrels gets a value: one the run lacks, or ranks nothing for, scores 0
(trec_eval alone would silently leave it out of the average).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pytrec_eval

from evals.stats import bootstrap_mean_interval

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
PerQuery = dict[str, dict[str, float]]
"""``metric -> query id -> value``."""

DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
BOOTSTRAP_SAMPLES = 10_000

_NAME = re.compile(r"^(ndcg|recall|precision|mrr)(?:@([1-9][0-9]*))?$")
_TREC = {"ndcg": "ndcg_cut", "recall": "recall", "precision": "P"}


@dataclass(frozen=True)
class MetricSpec:
    """A parsed metric name: the measure and its cutoff (None: the whole run)."""

    measure: str
    cutoff: int | None

    @classmethod
    def parse(cls, name: str) -> MetricSpec:
        """``"ndcg@10"`` -> ``MetricSpec("ndcg", 10)``; ValueError for unknown names."""
        match = _NAME.match(name.strip().lower())
        if match is None or (match.group(1) != "mrr" and match.group(2) is None):
            raise ValueError(
                f"unknown metric {name!r}: use ndcg@k, recall@k, precision@k, mrr@k or mrr"
            )
        return cls(match.group(1), int(match.group(2)) if match.group(2) else None)


def rank_scores(ranked: Iterable[str]) -> dict[str, float]:
    """Keys in rank order (best first, duplicates after the first ignored) to strictly
    decreasing scores, so trec_eval keeps exactly this order."""
    order = list(dict.fromkeys(ranked))
    return {key: float(len(order) - rank) for rank, key in enumerate(order)}


def top_n(run: Run, n: int) -> dict[str, dict[str, float]]:
    """Each query's first ``n`` documents, ranked as trec_eval ranks them (score descending,
    ties by key descending)."""
    return {
        qid: dict(sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)[:n])
        for qid, docs in run.items()
    }


def per_query_metrics(qrels: Qrels, run: Run, metrics: Sequence[str] = DEFAULT_METRICS) -> PerQuery:
    """``metric -> query -> value`` for every query in ``qrels``.

    Raises ValueError for an unknown metric name, empty qrels, or a query without any
    relevant document (its recall and nDCG are undefined: leave it out of the qrels).
    """
    specs = {name: MetricSpec.parse(name) for name in metrics}
    if not qrels:
        raise ValueError("no queries to evaluate (the qrels are empty)")
    judged = {qid: {doc: int(rel) for doc, rel in docs.items()} for qid, docs in qrels.items()}
    unjudged = sorted(qid for qid, docs in judged.items() if not any(r > 0 for r in docs.values()))
    if unjudged:
        raise ValueError(f"queries without a relevant document: {', '.join(unjudged[:5])}")
    # trec_eval drops queries with an empty ranking; they are scored 0 below instead.
    ranked = {
        qid: {doc: float(score) for doc, score in run[qid].items()}
        for qid in judged
        if run.get(qid)
    }
    deep = [s for s in specs.values() if s.measure != "mrr"]
    deep_values: dict[str, dict[str, float]] = {}
    if deep and ranked:
        measures = {f"{_TREC[s.measure]}.{s.cutoff}" for s in deep}
        deep_values = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(ranked)
    mrr_values: dict[int | None, dict[str, dict[str, float]]] = {}
    for spec in specs.values():
        if spec.measure == "mrr" and spec.cutoff not in mrr_values and ranked:
            # recip_rank has no cutoff of its own: evaluate it on the truncated run.
            cut = top_n(ranked, spec.cutoff) if spec.cutoff else ranked
            mrr_values[spec.cutoff] = pytrec_eval.RelevanceEvaluator(
                judged, {"recip_rank"}
            ).evaluate(cut)
    result: PerQuery = {}
    for name, spec in specs.items():
        if spec.measure == "mrr":
            source, key = mrr_values.get(spec.cutoff, {}), "recip_rank"
        else:
            source, key = deep_values, f"{_TREC[spec.measure]}_{spec.cutoff}"
        result[name] = {qid: float(source.get(qid, {}).get(key, 0.0)) for qid in judged}
    return result


def mean_metrics(per_query: PerQuery) -> dict[str, float]:
    """The mean over queries of every metric."""
    return {name: float(np.mean(list(values.values()))) for name, values in per_query.items()}


def evaluate_run(
    qrels: Qrels, run: Run, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Mean metrics of a run (see ``per_query_metrics``)."""
    return mean_metrics(per_query_metrics(qrels, run, metrics))


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    *,
    seed: int = 13,
    samples: int = BOOTSTRAP_SAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of per-query values (for a difference
    between two systems, pass the paired per-query differences); see ``evals.stats``."""
    rng = np.random.default_rng(seed)
    return bootstrap_mean_interval(values, rng=rng, resamples=samples, level=level)
