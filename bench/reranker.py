"""Does a cross-encoder reranker, trained here from the shipped MiniLM, help SciFact?

No pretrained reranker ships offline, so this trains one (``retrieval.cross_encoder``) on
SciFact's *train* claims and measures it on the 300 *test* claims, against the same first stage
without reranking:

1. First stage: Citewise's hybrid search (``api.composition.build_searcher``, default ranking
   settings) over the SciFact index that ``bench/retrieval_quality.py`` built through the real
   ingestion (``--index-dir``; run that script first).
2. Training pairs, per train claim: chunks of its cited documents found in the hybrid top 20
   (positives; else the cited document's first chunk) and the best-ranked other chunks (hard
   negatives). Fine-tuned with sentence-transformers' ``CrossEncoderTrainer`` on the CPU.
3. Test: hybrid top ``--depth`` chunks, reordered by the reranker; documents rank by their best
   chunk; nDCG@10 / recall@10 / MRR@10 from ``pytrec_eval``; paired bootstrap of ΔnDCG@10.

Usage::

    .venv/bin/python bench/reranker.py                       # train (cached) and measure
    .venv/bin/python bench/reranker.py --retrain --epochs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from embedding_quality import per_query_metrics
from report import OUT_DIR, git_revision, machine, paired_bootstrap, write_section
from retrieval_quality import (
    METRICS,
    default_data_dir,
    doc_id_of,
    document_run,
    load_scifact,
)

SECTION_TITLE = "## Reranking on SciFact (bench/reranker.py)"
OUT_JSON = OUT_DIR / "reranker.json"
MODEL_DIR = OUT_DIR / "reranker-model"
DEFAULT_INDEX = OUT_DIR / "retrieval-quality" / "scifact-bm25avg256"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--depth", type=int, default=30, help="candidates reranked")
    parser.add_argument("--negatives", type=int, default=2, help="hard negatives per claim")
    parser.add_argument(
        "--max-tokens", type=int, default=192, help="pair length in training (CPU cost)"
    )
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument(
        "--train-claims", type=int, default=None, help="use only the first N train claims"
    )
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="re-render RESULTS.md from the JSON"
    )
    args = parser.parse_args()
    if args.report_only:
        write_section(_section(json.loads(OUT_JSON.read_text())))
        return

    data = load_scifact(args.data)
    if data is None:
        return
    if not (args.index_dir / "index").is_dir():
        sys.exit(f"no SciFact index at {args.index_dir}; run bench/retrieval_quality.py first")

    from api import composition
    from core.models import Principal
    from core.settings import Settings

    settings = Settings.load(data_dir=args.index_dir, index={"bm25_avg_len": _avg_len(args)})
    principal = Principal(user_id="bench")
    report: dict[str, Any] = {"depth": args.depth, "index_dir": str(args.index_dir)}
    with composition.open_store(settings) as store:
        searcher = composition.build_searcher(settings, store.index)
        searcher.warm_up()

        def hybrid(question: str, k: int) -> list[Any]:
            return searcher.search(question, principal, k=k)

        report.update(_train_if_needed(args, data, store.index, hybrid))
        test = data.qrels["test"]
        runs, rerank_ms = _rerank_test(data, hybrid, args.depth)
    scores = {name: per_query_metrics(test, run) for name, run in runs.items()}
    report["metrics"] = {
        name: {m: float(np.mean(list(s[m].values()))) for m in METRICS if m in s}
        for name, s in scores.items()
    }
    base, ranked = scores["hybrid"]["ndcg@10"], scores["hybrid+rerank"]["ndcg@10"]
    deltas = np.array([ranked[q] - base[q] for q in test])
    low, high = paired_bootstrap(deltas, seed=11)
    report["bootstrap"] = {"low": low, "high": high}
    report["rerank_ms_p50"] = float(np.percentile(rerank_ms, 50))
    report["rerank_ms_p95"] = float(np.percentile(rerank_ms, 95))
    report["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["machine"] = machine()
    report["revision"] = git_revision()
    report["command"] = "python bench/reranker.py " + shlex.join(sys.argv[1:])
    OUT_JSON.write_text(json.dumps(report, indent=2))
    section = _section(report)
    print(section)
    if not args.no_write:
        write_section(section)


def _train_if_needed(
    args: argparse.Namespace, data: Any, index: Any, hybrid: Any
) -> dict[str, Any]:
    """Train the reranker unless a trained one is cached; its training figures either way."""
    from retrieval.cross_encoder import RelevancePair, train_cross_encoder
    from retrieval.embedder import shipped_minilm_path

    keys = (
        "train_pairs",
        "train_positives",
        "train_wall_s",
        "train_cpu_s",
        "epochs",
        "train_max_tokens",
        "train_claims",
    )
    if not args.retrain and (MODEL_DIR / "config.json").is_file():
        previous = json.loads(OUT_JSON.read_text()) if OUT_JSON.is_file() else {}
        return {key: previous[key] for key in keys if key in previous}
    pairs = _training_pairs(data, index, hybrid, args.negatives, args.train_claims)
    claims = min(len(data.qrels["train"]), args.train_claims or len(data.qrels["train"]))
    print(f"training on {len(pairs)} pairs from {claims} train claims")
    started, cpu = time.perf_counter(), time.process_time()
    train_cross_encoder(
        shipped_minilm_path(),
        [RelevancePair(*p) for p in pairs],
        MODEL_DIR,
        epochs=args.epochs,
        max_tokens=args.max_tokens,
    )
    return {
        "train_pairs": len(pairs),
        "train_positives": sum(1 for p in pairs if p[2] > 0),
        "train_wall_s": round(time.perf_counter() - started, 1),
        "train_cpu_s": round(time.process_time() - cpu, 1),
        "epochs": args.epochs,
        "train_max_tokens": args.max_tokens,
        "train_claims": claims,
    }


def _rerank_test(
    data: Any, hybrid: Any, depth: int
) -> tuple[dict[str, dict[str, dict[str, float]]], list[float]]:
    """Document runs of the test claims without and with reranking, and rerank latencies."""
    from retrieval.cross_encoder import CrossEncoderReranker

    reranker = CrossEncoderReranker(MODEL_DIR)
    reranker.warm_up()
    test = data.qrels["test"]
    runs: dict[str, dict[str, dict[str, float]]] = {"hybrid": {}, "hybrid+rerank": {}}
    rerank_ms: list[float] = []
    for n, qid in enumerate(test, start=1):
        hits = hybrid(data.queries[qid], depth)
        runs["hybrid"][qid] = document_run(hits) or {"-": 0.0}
        started = time.perf_counter()
        reranked = reranker.rerank(data.queries[qid], hits)
        rerank_ms.append(1000 * (time.perf_counter() - started))
        runs["hybrid+rerank"][qid] = document_run(reranked) or {"-": 0.0}
        if n % 50 == 0:
            print(f"  {n}/{len(test)} test claims")
    return runs, rerank_ms


def _avg_len(args: argparse.Namespace) -> float:
    """The index's BM25 length setting, from its directory name (``...bm25avg<N>``)."""
    tail = args.index_dir.name.rsplit("bm25avg", 1)[-1]
    return float(tail) if tail.replace(".", "", 1).isdigit() else 256.0


def _training_pairs(
    data: Any, index: Any, hybrid: Any, negatives: int, limit: int | None
) -> list[tuple[str, str, float]]:
    """(claim, chunk text, label) for the train claims: positives and hard negatives."""
    from core.ids import document_id

    corpus_dir = OUT_DIR / "scifact-corpus"
    pairs: list[tuple[str, str, float]] = []
    claims = list(data.qrels["train"].items())[:limit]
    for n, (qid, relevant) in enumerate(claims, start=1):
        claim = data.queries[qid]
        hits = hybrid(claim, 20)
        positives = [h for h in hits if doc_id_of(h.chunk.source_uri) in relevant][:1]
        if not positives:
            for doc in relevant:
                uri = (corpus_dir / f"{doc}.md").resolve().as_uri()
                chunks = index.get_chunks(document_id(uri))
                if chunks:
                    pairs.append((claim, chunks[0].embedding_text(), 1.0))
        pairs += [(claim, h.chunk.embedding_text(), 1.0) for h in positives]
        hard = [h for h in hits if doc_id_of(h.chunk.source_uri) not in relevant][:negatives]
        pairs += [(claim, h.chunk.embedding_text(), 0.0) for h in hard]
        if n % 100 == 0:
            print(f"  pairs from {n}/{len(claims)} train claims")
    random.Random(7).shuffle(pairs)
    return pairs


def _section(report: dict[str, Any]) -> str:
    metrics = report["metrics"]
    m = report["machine"]
    rows = "\n".join(
        f"| {name} | " + " | ".join(f"{values[m]:.4f}" for m in METRICS if m in values) + " |"
        for name, values in metrics.items()
    )
    heads = [m for m in METRICS if m in metrics["hybrid"]]
    delta = metrics["hybrid+rerank"]["ndcg@10"] - metrics["hybrid"]["ndcg@10"]
    low, high = report["bootstrap"]["low"], report["bootstrap"]["high"]
    verdict = "helps" if low > 0 else "hurts" if high < 0 else "no significant change"
    return f"""{SECTION_TITLE}

- Date: {report["date"]}
- Machine: {m["nproc"]} cores, {m["cpu_model"]}; Python {m["python"]}
- Code: {report["revision"]}
- Command: `{report["command"]}`
- First stage: hybrid search with the default ranking settings, top {report["depth"]} chunks,
  index `{Path(report["index_dir"]).name}`
- Reranker: cross-encoder fine-tuned from the shipped all-MiniLM-L6-v2 weights on
  {report.get("train_pairs", "?")} (claim, chunk) pairs from {report.get("train_claims", "?")}
  of the 809 SciFact *train* claims
  ({report.get("train_positives", "?")} positives, the rest hard negatives from the hybrid
  top 20), pairs cut to {report.get("train_max_tokens", "?")} tokens,
  {report.get("epochs", "?")} epoch(s), {report.get("train_wall_s", "?")} s wall /
  {report.get("train_cpu_s", "?")} CPU-s to train on this machine

| run (300 test claims) | {" | ".join(heads)} |
|---|{"--:|" * len(heads)}
{rows}

- recall@100 counts the documents of the {report["depth"]} chunks reranked (both rows rank
  the same candidates).
- ΔnDCG@10 (rerank - hybrid) = {delta:+.4f}, paired bootstrap 95% interval
  [{low:+.4f}, {high:+.4f}]: **{verdict}**
- Rerank cost per query ({report["depth"]} candidates): p50 {report["rerank_ms_p50"]:.0f} ms,
  p95 {report["rerank_ms_p95"]:.0f} ms on the CPU
- Reranking therefore stays **off** by default (`search.reranker: none`) unless it helps
  here; turn it on with `search.reranker: cross-encoder` and a trained model at
  `search.reranker_path`.
"""


if __name__ == "__main__":
    main()
