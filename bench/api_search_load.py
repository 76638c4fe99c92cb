"""``POST /v1/search`` under concurrent load, against in-process search as the baseline.

A real uvicorn server (the app's real lifespan, API-key auth) serves the sample corpus on a
free loopback port; N concurrent clients (httpx, one connection each) send the sample
questions in turn for D seconds. The baseline runs the same searches with the same number
of threads straight on the ``Searcher`` (no HTTP, no auth, no JSON), so the ratio is what
the service layer costs. Reports throughput, p50/p95/p99 latency and errors (must be 0).

Run: ``.venv/bin/python bench/api_search_load.py [--clients 20] [--seconds 30]``.
Results: bench/RESULTS.md ("## API search under load"), bench/out/api-search-load/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from bench.report import git_revision, machine, percentiles, write_section
from core.models import Principal
from core.settings import Settings
from ingest.acl_policy import AclPolicy

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "api-search-load"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def http_load(
    url: str, token: str, queries: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.post("/v1/search", json={"query": queries[i % len(queries)]})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.json()["results"]:
                    errors += 1
                i += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        **percentiles(latencies),
    }


def direct_load(
    settings: Settings, queries: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()
    principal = Principal(user_id="bench", groups=("hr",))
    with composition.open_store(settings) as store:
        searcher = composition.build_searcher(settings, store.index)
        searcher.warm_up()
        deadline = time.perf_counter() + seconds

        def worker(n: int) -> None:
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                searcher.search(queries[i % len(queries)], principal)
                with lock:
                    latencies.append(time.perf_counter() - started)
                i += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(worker, range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": 0,
        "rps": len(latencies) / elapsed,
        **percentiles(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    questions = yaml.safe_load((REPO / "samples" / "questions.yaml").read_text())
    queries = [q["question"] for q in questions]
    settings = Settings.load(data_dir=OUT / "data", llm={"model": "qwen2.5-0.5b"})
    with composition.open_store(settings) as store:
        composition.build_pipeline(settings, store).run(
            [REPO / "samples" / "corpus"], policy=AclPolicy.from_file(REPO / "samples" / "acl.yaml")
        )
    keys = composition.build_key_store(settings)
    token = keys.create("bench", ["hr"])[1]
    keys.close()

    direct = direct_load(settings, queries, args.clients, args.seconds)
    print("direct:", direct, flush=True)

    # The server runs in its own process: clients sharing its interpreter (and GIL) would
    # slow it down and make HTTP look worse than it is.
    port = free_port()
    env_vars = {
        **os.environ,
        "CITEWISE_DATA_DIR": str(settings.data_dir),
        "CITEWISE_LLM__MODEL": settings.llm.model,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env_vars,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        http = asyncio.run(http_load(url, token, queries, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=60)
    print("http:", http, flush=True)

    env = {"machine": machine(), "revision": git_revision(), "date": time.strftime("%Y-%m-%d")}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"env": env, "http": http, "direct": direct}))
    ratio = http["rps"] / direct["rps"]
    section = "\n".join(
        [
            "## API search under load (bench/api_search_load.py)",
            "",
            f"Machine: {env['machine']['nproc']} cores; revision {env['revision']}; "
            f"{env['date']}. {args.clients} concurrent clients for {args.seconds:.0f} s, the "
            f"{len(queries)} sample questions in turn, hybrid search over the sample corpus. "
            "HTTP: `citewise serve` (uvicorn, one process, API-key auth, JSON, snippets) on "
            "loopback, driven by httpx clients (a connection each) from another process. "
            "Baseline: the same searches on the same number of threads straight on the "
            "`Searcher`.",
            "",
            "| path | requests | errors | req/s | p50 | p95 | p99 |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.1f} "
                f"| {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {r['p99_ms']:.0f} ms |"
                for name, r in (("HTTP /v1/search", http), ("in-process Searcher", direct))
            ),
            "",
            f"HTTP throughput is {ratio:.2f}x the in-process baseline "
            f"(median latency {http['p50_ms'] / direct['p50_ms']:.2f}x).",
        ]
    )
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
