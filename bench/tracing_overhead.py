"""What tracing costs ``POST /v1/search`` under load: no instrumentation vs tracing off vs on.

Four ``citewise serve`` processes over copies of the same ingested sample corpus, driven by
the load of ``bench/api_search_load.py`` (N concurrent httpx clients, the sample questions in
turn, for D seconds), in interleaved rounds so that drift in the machine's load hits every
variant alike:

- **baseline**: the code before tracing existed (``--baseline-rev``, default: the parent of
  ``--revision``): no span calls, no OpenTelemetry, no audit log;
- **off**: ``--revision`` (default: the commit that added ``core/tracing.py``, so that nothing
  but the monitoring work differs from the baseline), ``telemetry.otlp_endpoint`` unset (the
  no-op tracer, no provider), ``audit.enabled`` off;
- **on**: the same, exporting every span (sample ratio 1) over OTLP/HTTP to a local sink
  process that accepts and discards them (a collector stand-in), ``audit.enabled`` off;
- **audit**: the same as off with the audit log on (the shipped default): one row written per
  search, measured apart so that its cost is not mistaken for tracing's.

Both codes are served from temporary git worktrees (uncommitted changes do not count).

Reports per variant the median of the per-round p50 and p95 latencies, the throughput, and
the overhead of off and on against the baseline's p50 (targets: off ≤ 2 %, on ≤ 10 %). On a
busy machine the rounds' spread is wider than those targets, so the script also measures, in
process and in isolation, what one span costs with the no-op tracer and with the SDK (batch
processor, discarding exporter), and from the spans one search makes, what tracing adds to a
search's time.

Run: ``.venv/bin/python bench/tracing_overhead.py [--clients 8] [--seconds 20] [--rounds 3]``.
Results: bench/RESULTS.md ("## Tracing overhead"), bench/out/tracing-overhead/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_search_load import http_load
from bench.report import git_revision, load1, machine, write_json, write_section

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "tracing-overhead"
VARIANTS = ("baseline", "off", "on", "audit")

# A collector stand-in: accepts OTLP/HTTP posts and discards them, counting bytes.
_SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
"""


SPANS_PER_SEARCH = 3
"""``search``, ``search.embed`` and ``search.query`` (no reranker); the HTTP server span of the
FastAPI instrumentation comes on top when tracing is on."""


def span_costs(spans: int = 200_000) -> dict[str, float]:
    """Microseconds per span as ``Searcher.search`` opens them: the no-op tracer, and the
    OpenTelemetry adapter with the SDK's batch processor feeding an exporter that discards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from api.composition.telemetry import OtelTracer
    from core.tracing import NOOP_TRACER, Tracer

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def per_span(tracer: Tracer, n: int) -> float:
        best = float("inf")
        for _ in range(5):  # the best of five: the least disturbed by other processes
            started = time.perf_counter()
            for _ in range(n):
                with tracer.span("search", **{"search.mode": "hybrid", "search.k": 8}) as span:
                    span.set("search.hits", 8)
            best = min(best, (time.perf_counter() - started) / n * 1e6)
        return best

    provider = TracerProvider()
    # A queue as long as the run: no span is dropped, every one is exported.
    provider.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=spans))
    try:
        sdk = per_span(OtelTracer(provider, record_question_text=False), spans // 20)
    finally:
        provider.shutdown()
    return {"noop_us": per_span(NOOP_TRACER, spans), "sdk_us": sdk}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tracing_commit() -> str:
    """The commit that added core/tracing.py (short id)."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "core/tracing.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("core/tracing.py is not committed: pass --revision and --baseline-rev")
    return short(added[-1])


def short(revision: str) -> str:
    """``revision`` as a short commit id."""
    return subprocess.run(
        ["git", "rev-parse", "--short", revision],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@contextmanager
def worktree(revision: str, name: str) -> Iterator[Path]:
    """A detached git worktree of ``revision``, removed afterwards."""
    path = OUT / name
    if path.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)
        shutil.rmtree(path, ignore_errors=True)
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), revision],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)


def citewise(source: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``citewise ARGS`` run from the code at ``source`` (its packages first on the path)."""
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=source,
        env={**env, "PYTHONPATH": str(source)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def serving(source: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server = citewise(source, env, "serve", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if server.poll() is not None:
                raise SystemExit(server.stderr.read().decode() if server.stderr else "died")
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("a server was not ready in 600 s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-rev", default=None)
    parser.add_argument("--revision", default=None)
    args = parser.parse_args()
    questions = yaml.safe_load((REPO / "samples" / "questions.yaml").read_text())
    queries = [q["question"] for q in questions]
    args.revision = short(args.revision) if args.revision else tracing_commit()
    revision = short(args.baseline_rev or f"{args.revision}^")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    base_env |= {"CITEWISE_LLM__MODEL": "qwen2.5-0.5b", "HF_HUB_OFFLINE": "1"}
    shutil.rmtree(OUT / "data", ignore_errors=True)

    with ExitStack() as stack:
        old_code = stack.enter_context(worktree(revision, "baseline-src"))
        new_code = stack.enter_context(worktree(args.revision, "current-src"))
        # Ingest with the old code (its schema); the new code upgrades its copies on open.
        seed = OUT / "data" / "seed"
        ingest = citewise(
            old_code,
            {**base_env, "CITEWISE_DATA_DIR": str(seed)},
            "ingest",
            str(REPO / "samples" / "corpus"),
            "--acl",
            str(REPO / "samples" / "acl.yaml"),
        )
        if ingest.wait() != 0:
            raise SystemExit(ingest.stderr.read().decode() if ingest.stderr else "ingest failed")
        sink_port = free_port()
        sink = subprocess.Popen([sys.executable, "-c", _SINK, str(sink_port)])
        stack.callback(sink.terminate)
        urls, tokens = {}, {}
        for variant in VARIANTS:
            data = OUT / "data" / variant
            shutil.copytree(seed, data)
            env = {**base_env, "CITEWISE_DATA_DIR": str(data)}
            if variant == "on":
                env["CITEWISE_TELEMETRY__OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}/v1/traces"
            if variant in {"off", "on"}:
                env["CITEWISE_AUDIT__ENABLED"] = "false"
            source = old_code if variant == "baseline" else new_code
            created = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "api.cli",
                    *("keys", "create", "--user", "bench", "--groups", "hr"),
                ],
                cwd=source,
                env={**env, "PYTHONPATH": str(source)},
                capture_output=True,
                text=True,
                check=True,
            )
            tokens[variant] = created.stdout.strip().splitlines()[-1]
            urls[variant] = stack.enter_context(serving(source, env))
        for variant in VARIANTS:  # warm each server's caches and the JIT of its paths
            asyncio.run(http_load(urls[variant], tokens[variant], queries, args.clients, 3))
        rounds: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        loads = []
        for r in range(args.rounds):
            shift = r % len(VARIANTS)
            order = VARIANTS[shift:] + VARIANTS[:shift]  # rotate who goes first
            for variant in order:
                loads.append(load1())
                result = asyncio.run(
                    http_load(urls[variant], tokens[variant], queries, args.clients, args.seconds)
                )
                rounds[variant].append(result)
                print(variant, f"round {r + 1}:", result, flush=True)

    report(args, revision, rounds, loads)


def report(
    args: argparse.Namespace,
    revision: str,
    rounds: dict[str, list[dict[str, Any]]],
    loads: list[float],
) -> None:
    """Summarise the rounds, measure the span costs, write results.json and RESULTS.md."""
    summary = {}
    for variant in VARIANTS:
        runs = rounds[variant]
        summary[variant] = {
            "requests": sum(r["requests"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "rps": statistics.mean(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p95_ms": statistics.median(r["p95_ms"] for r in runs),
            "round_p50_ms": [round(r["p50_ms"], 2) for r in runs],
        }
    base = summary["baseline"]["p50_ms"]
    for variant in ("off", "on", "audit"):
        summary[variant]["p50_overhead"] = summary[variant]["p50_ms"] / base - 1
    costs = span_costs()
    print("span costs:", costs, flush=True)
    added = {
        "off": costs["noop_us"] * SPANS_PER_SEARCH,
        "on": costs["sdk_us"] * (SPANS_PER_SEARCH + 1),
    }
    env_info = {
        "machine": machine(),
        "revision": args.revision,
        "bench_script_revision": git_revision(),
        "baseline_revision": revision,
        "date": time.strftime("%Y-%m-%d"),
        "load1_during_rounds": loads,
    }
    write_json(
        OUT / "results.json",
        {"env": env_info, "summary": summary, "rounds": rounds, "span_costs": costs},
    )
    rows = [
        f"| {v} | {s['requests']} | {s['errors']} | {s['rps']:.1f} | {s['p50_ms']:.1f} ms "
        f"| {', '.join(f'{p:.1f}' for p in s['round_p50_ms'])} | {s['p95_ms']:.1f} ms "
        f"| {s.get('p50_overhead', 0.0) * 100:+.1f} % |"
        for v, s in summary.items()
    ]
    section = "\n".join(
        [
            "## Tracing overhead (bench/tracing_overhead.py)",
            "",
            f"Machine: {env_info['machine']['nproc']} cores; served code {args.revision} (the "
            f"commit that added tracing and the audit log) against its parent {revision} "
            f"(baseline); {env_info['date']}. "
            f"{args.clients} concurrent clients, {args.rounds} interleaved rounds of "
            f"{args.seconds:.0f} s per variant, `POST /v1/search` with the sample questions "
            "over the sample corpus (the load of bench/api_search_load.py), each variant its "
            "own `citewise serve` process. off and on: audit log off; on: every span exported "
            "over OTLP/HTTP (batch processor) to a local sink process; audit: tracing off, "
            "audit log on (the default). 1-minute load average during the rounds: "
            f"{min(loads):.1f} to {max(loads):.1f} (other engineers' jobs share the 2 cores).",
            "",
            "| variant | requests | errors | req/s | p50 (median of rounds) | p50 per round (ms) "
            "| p95 (median) | p50 vs baseline |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Targets: tracing off ≤ 2 %, tracing on ≤ 10 % over the baseline's p50.",
            "",
            "Span cost in isolation (in process, best of five runs): "
            f"{costs['noop_us'] * 1000:.0f} ns per span with the no-op tracer, "
            f"{costs['sdk_us']:.1f} µs with the SDK (batch processor, discarding exporter). "
            f"A search opens {SPANS_PER_SEARCH} spans (plus the HTTP span when on): tracing "
            f"off adds {added['off']:.2f} µs ({added['off'] / (base * 10):.4f} % of the "
            f"baseline p50), tracing on about {added['on']:.0f} µs "
            f"({added['on'] / (base * 10):.3f} %) of span work, before the export thread's "
            "share of the CPU.",
        ]
    )
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
