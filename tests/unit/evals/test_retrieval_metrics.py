"""Retrieval metrics on tiny hand-built runs, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals.retrieval_metrics import (
    MetricSpec,
    bootstrap_interval,
    evaluate_run,
    per_query_metrics,
    rank_scores,
    top_n,
)

ALL = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "mrr", "precision@5")


def ranked(*docs: str) -> dict[str, float]:
    """A run for one query with the documents in this order."""
    return rank_scores(docs)


def one(
    qrels: dict[str, int], run: dict[str, float], metrics: tuple[str, ...] = ALL
) -> dict[str, float]:
    """Every metric for a single query ``q``."""
    values = per_query_metrics({"q": qrels}, {"q": run}, metrics)
    return {name: by_query["q"] for name, by_query in values.items()}


FILLER = [f"d{i:03d}" for i in range(200)]


def test_a_perfect_ranking_scores_one_everywhere() -> None:
    m = one({"a": 1, "b": 1}, ranked("a", "b", *FILLER[:20]))
    assert m["ndcg@10"] == pytest.approx(1.0)
    assert m["recall@10"] == m["recall@100"] == pytest.approx(1.0)
    assert m["mrr@10"] == m["mrr"] == pytest.approx(1.0)
    assert m["precision@5"] == pytest.approx(2 / 5)


def test_a_single_hit_at_rank_three() -> None:
    m = one({"a": 1}, ranked("x", "y", "a", *FILLER[:20]))
    assert m["mrr@10"] == pytest.approx(1 / 3)
    # DCG = 1 / log2(3 + 1); the ideal ranking puts it first (IDCG = 1).
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4)) == pytest.approx(0.5)
    assert m["recall@10"] == pytest.approx(1.0)


def test_two_relevant_at_ranks_one_and_three() -> None:
    m = one({"a": 1, "b": 1}, ranked("a", "x", "b", *FILLER[:20]))
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert m["mrr@10"] == pytest.approx(1.0)


def test_half_the_relevant_documents_found() -> None:
    m = one({"a": 1, "b": 1}, ranked("a", *FILLER[:150]))
    assert m["recall@10"] == m["recall@100"] == pytest.approx(0.5)


def test_a_hit_below_the_cutoff_counts_only_for_the_deeper_metrics() -> None:
    m = one({"a": 1}, ranked(*FILLER[:10], "a", *FILLER[10:50]))
    assert m["mrr@10"] == 0.0 and m["recall@10"] == 0.0 and m["ndcg@10"] == 0.0
    assert m["recall@100"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx(1 / 11)


def test_graded_relevance_uses_linear_gains() -> None:
    m = one({"a": 1, "b": 2}, ranked("a", "b"), ("ndcg@10",))
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)


def test_queries_the_run_misses_or_leaves_empty_score_zero() -> None:
    qrels = {"hit": {"a": 1}, "empty": {"a": 1}, "absent": {"a": 1}}
    values = per_query_metrics(qrels, {"hit": ranked("a"), "empty": {}})
    for name, by_query in values.items():
        assert by_query == {"hit": pytest.approx(1.0), "empty": 0.0, "absent": 0.0}, name
    assert evaluate_run(qrels, {"hit": ranked("a")})["ndcg@10"] == pytest.approx(1 / 3)


def test_queries_outside_the_qrels_are_ignored() -> None:
    values = per_query_metrics({"q": {"a": 1}}, {"q": ranked("a"), "other": ranked("z")})
    assert set(values["ndcg@10"]) == {"q"}


def test_ties_are_broken_as_trec_eval_does_by_key_descending() -> None:
    run = {"a": 1.0, "b": 1.0}
    m = one({"a": 1}, run, ("mrr", "mrr@1", "mrr@10"))
    assert m == {"mrr": 0.5, "mrr@1": 0.0, "mrr@10": 0.5}
    assert list(top_n({"q": run}, 2)["q"]) == ["b", "a"]


def test_rank_scores_keep_the_order_and_drop_repeats() -> None:
    scores = rank_scores(["c", "a", "c", "b"])
    assert list(scores) == ["c", "a", "b"]
    assert scores["c"] > scores["a"] > scores["b"]


@pytest.mark.parametrize("name", ["ndcg", "recall@0", "map@10", "mrr@x", ""])
def test_unknown_metric_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        MetricSpec.parse(name)


def test_metric_names_parse() -> None:
    assert MetricSpec.parse("nDCG@10") == MetricSpec("ndcg", 10)
    assert MetricSpec.parse("mrr") == MetricSpec("mrr", None)


def test_undefined_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="without a relevant document: q"):
        per_query_metrics({"q": {"a": 0}}, {"q": ranked("a")})
    with pytest.raises(ValueError, match="empty"):
        per_query_metrics({}, {})


def test_bootstrap_interval() -> None:
    assert bootstrap_interval([0.5] * 20) == (0.5, 0.5)
    values = [0.0, 1.0] * 50
    low, high = bootstrap_interval(values)
    assert low < 0.5 < high and high - low < 0.25
    assert bootstrap_interval(values, seed=1) == bootstrap_interval(values, seed=1)
    with pytest.raises(ValueError):
        bootstrap_interval([])
