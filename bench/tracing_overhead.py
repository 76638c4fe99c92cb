"""What tracing costs ``POST /v1/search`` under load: no instrumentation vs tracing off vs on.

Three ``citewise serve`` processes over copies of the same ingested sample corpus, driven by
the load of ``bench/api_search_load.py`` (N concurrent httpx clients, the sample questions in
turn, for D seconds), in interleaved rounds so that drift in the machine's load hits every
variant alike:

- **baseline**: the code before tracing existed (``--baseline-rev``, default: the parent of
  the commit that added ``core/tracing.py``), served from a temporary git worktree: no span
  calls, no OpenTelemetry;
- **off**: this code, ``telemetry.otlp_endpoint`` unset (the no-op tracer, no provider);
- **on**: this code, exporting every span (sample ratio 1) over OTLP/HTTP to a local sink
  process that accepts and discards them (a collector stand-in).

Reports per variant the pooled p50/p95 latency and throughput, the median of the per-round
p50s, and the overhead of off and on against the baseline's p50 (targets: off ≤ 2 %, on ≤ 10 %).

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
VARIANTS = ("baseline", "off", "on")

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def baseline_revision() -> str:
    """The parent of the commit that added core/tracing.py."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "core/tracing.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("core/tracing.py is not committed: pass --baseline-rev")
    return f"{added[-1]}^"


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached git worktree of ``revision``, removed afterwards."""
    path = OUT / "baseline-src"
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
    args = parser.parse_args()
    questions = yaml.safe_load((REPO / "samples" / "questions.yaml").read_text())
    queries = [q["question"] for q in questions]
    revision = args.baseline_rev or baseline_revision()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    base_env |= {"CITEWISE_LLM__MODEL": "qwen2.5-0.5b", "HF_HUB_OFFLINE": "1"}
    shutil.rmtree(OUT / "data", ignore_errors=True)

    with ExitStack() as stack:
        old_code = stack.enter_context(worktree(revision))
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
            source = old_code if variant == "baseline" else REPO
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
            order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]  # rotate who goes first
            for variant in order:
                loads.append(load1())
                result = asyncio.run(
                    http_load(urls[variant], tokens[variant], queries, args.clients, args.seconds)
                )
                rounds[variant].append(result)
                print(variant, f"round {r + 1}:", result, flush=True)

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
    for variant in ("off", "on"):
        summary[variant]["p50_overhead"] = summary[variant]["p50_ms"] / base - 1
    env_info = {
        "machine": machine(),
        "revision": git_revision(),
        "baseline_revision": revision,
        "date": time.strftime("%Y-%m-%d"),
        "load1_during_rounds": loads,
    }
    write_json(OUT / "results.json", {"env": env_info, "summary": summary, "rounds": rounds})
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
            f"Machine: {env_info['machine']['nproc']} cores; revision {env_info['revision']} "
            f"(baseline: {revision}, the code before tracing); {env_info['date']}. "
            f"{args.clients} concurrent clients, {args.rounds} interleaved rounds of "
            f"{args.seconds:.0f} s per variant, `POST /v1/search` with the sample questions "
            "over the sample corpus (the load of bench/api_search_load.py), each variant its "
            "own `citewise serve` process. on: every span exported over OTLP/HTTP (batch "
            "processor) to a local sink process. 1-minute load average during the rounds: "
            f"{min(loads):.1f} to {max(loads):.1f} (other engineers' jobs share the 2 cores).",
            "",
            "| variant | requests | errors | req/s | p50 (median of rounds) | p50 per round (ms) "
            "| p95 (median) | p50 vs baseline |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Targets: tracing off ≤ 2 %, tracing on ≤ 10 % over the baseline's p50.",
        ]
    )
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
