"""Answer latency, issue 18 lever 3: what keeping the answer rules' KV state saves.

- ``prefix_ab``: the first request of a freshly loaded model, with and without the kept
  system-turn state (``generation/llama_prefix.py``), the arms alternating;
- ``prefix_micro``: reading the rules' tokens against restoring their state, in one ``Llama``.

Driven by ``bench/answer_latency.py --prefix-ab`` / ``--prefix-micro``.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api import composition
from bench.report import p50_p95
from core.settings import Settings
from evals.dataset import EvalExample
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.model_store import resolve_model_path
from generation.prompting import Prompt


def prefix_ab(model: str, settings: Settings, examples: Sequence[EvalExample]) -> dict[str, Any]:
    """First request of a freshly loaded model, without and with the kept system-turn state
    (lever 3): what each ``citewise ask`` process pays before its first token."""
    import tempfile

    path = resolve_model_path(model, composition.gguf_store_dir(settings))
    threads = settings.llm.threads
    prompts: list[tuple[str, Prompt]] = []
    with composition.open_store(settings) as store:
        counter = LlamaCppGenerator(path, context_window=settings.llm.context_window)
        service = composition.build_answer_service(settings, store.index, generator=counter)
        for example in examples:
            prepared = service.prepare(example.question, example.principal.to_principal())
            if isinstance(prepared.next, Prompt):
                prompts.append((example.id, prepared.next))
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
        "plain_ttft": p50_p95([r["plain"]["ttft_s"] for r in rows]),
        "kept_ttft": p50_p95([r["kept"]["ttft_s"] for r in rows]),
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
