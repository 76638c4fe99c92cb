"""Answer latency, issue 18 lever 4: prompt-lookup (n-gram) speculative decoding.

An answer copies spans of its sources, the case ``LlamaPromptLookupDecoding`` is made for: it
drafts the next tokens from an earlier occurrence of the last n-gram in the prompt, and the
model checks the whole draft in one batch. This measures, on the prompts our answer service
builds for the set's questions, greedy decoding without and with it (two ``Llama`` instances,
alternating per prompt): time to first token, decode tokens/s, and whether the text stays
identical. llama-cpp-python computes logits for every prompt token when a draft model is set
(``logits_all``: the output layer over the whole 151,936-token vocabulary for each of them),
which is why TTFT is reported too.

Run: ``.venv/bin/python bench/answer_latency_lookup.py [--set sample] [--model qwen2.5-0.5b]
[--limit 6]``. Results go to bench/RESULTS.md and bench/out/answer-latency/lookup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import composition
from bench.answer_latency import OUT, environment, raw, spread
from bench.report import write_section
from core.settings import Settings
from evals.qa_datasets import load_dataset
from generation.llama_cpp_generator import LlamaCppGenerator, load_backends
from generation.model_store import resolve_model_path
from generation.prompting import Prompt


def prompts(model_path: Path, settings: Settings, set_name: str, limit: int) -> list[Prompt]:
    """The prompts our answer service builds for ``limit`` questions that reach generation."""
    data = load_dataset(set_name)
    counter = LlamaCppGenerator(model_path, context_window=settings.llm.context_window)
    found: list[Prompt] = []
    with composition.open_store(settings) as store:
        service = composition.build_answer_service(settings, store.index, generator=counter)
        for example in spread(data.examples, limit * 2):
            prepared = service.prepare(example.question, example.principal.to_principal())
            if isinstance(prepared.next, Prompt) and len(found) < limit:
                found.append(prepared.next)
    return found


def decode(llama: Any, prompt: Prompt) -> dict[str, Any]:
    """Greedy streaming completion: TTFT, decode rate after the first token, the text."""
    llama.reset()  # no KV reuse between prompts: both arms read every prompt in full
    result = raw(llama, prompt)
    first, total = result["ttft_s"], result["total_s"]
    tokens = len(llama.tokenize(result["text"].encode(), add_bos=False, special=False))
    rate = (tokens - 1) / (total - first) if first is not None and total > first else 0.0
    return {**result, "tokens": tokens, "decode_tps": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="set_name", default="sample")
    parser.add_argument("--model", default="qwen2.5-0.5b")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--draft-tokens", type=int, default=10)
    args = parser.parse_args()
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    settings = Settings.load(data_dir=OUT / f"data-{args.set_name}")
    env = environment(settings, args.set_name)
    path = resolve_model_path(args.model, composition.gguf_store_dir(settings))
    chosen = prompts(path, settings, args.set_name, args.limit)
    threads = settings.llm.threads or LlamaCppGenerator(path)._threads
    common = {
        "model_path": str(path),
        "n_ctx": settings.llm.context_window,
        "n_threads": threads,
        "n_threads_batch": threads,
        "seed": 0,
        "verbose": False,
    }
    load_backends()
    plain = Llama(**common)
    # logits_all must be passed too: llama-cpp-python turns it on for a draft model but sizes
    # its scores table from the argument, and the first batch then fails to fit.
    lookup = Llama(
        **common,
        logits_all=True,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=args.draft_tokens),
    )
    rows = []
    for n, prompt in enumerate(chosen):
        order = (("plain", plain), ("lookup", lookup))
        measured = dict(order if n % 2 == 0 else order[::-1])
        row = {name: decode(llama, prompt) for name, llama in measured.items()}
        row["prompt_tokens"] = prompt.prompt_tokens
        row["same_text"] = row["plain"]["text"] == row["lookup"]["text"]
        print(
            f"  {n + 1}/{len(chosen)} {prompt.prompt_tokens} tokens: plain ttft "
            f"{row['plain']['ttft_s']:.2f}s {row['plain']['decode_tps']:.1f} tok/s | lookup ttft "
            f"{row['lookup']['ttft_s']:.2f}s {row['lookup']['decode_tps']:.1f} tok/s | same "
            f"{row['same_text']}",
            flush=True,
        )
        rows.append(row)

    def median(arm: str, key: str) -> float:
        return statistics.median(r[arm][key] for r in rows)

    section = "\n".join(
        [
            "## Answer latency: prompt-lookup decoding (bench/answer_latency_lookup.py)",
            "",
            f"Machine: {env['machine']['nproc']} cores, {env['machine']['cpu_model']}; load "
            f"average {env['load1']:.1f} at the start; revision {env['revision']}; "
            f"{env['date']}. {args.model}, {len(rows)} prompts of the `{args.set_name}` set "
            f"(our answer service's), greedy; the two arms alternate per prompt; "
            f"`LlamaPromptLookupDecoding(num_pred_tokens={args.draft_tokens})`.",
            "",
            "| arm | TTFT (median) | decode tokens/s (median) | total (median) |",
            "|---|---|---|---|",
            *(
                f"| {arm} | {median(arm, 'ttft_s'):.2f} s | {median(arm, 'decode_tps'):.1f} "
                f"| {median(arm, 'total_s'):.2f} s |"
                for arm in ("plain", "lookup")
            ),
            "",
            f"Same greedy text: {sum(r['same_text'] for r in rows)}/{len(rows)}; prompt tokens "
            f"p50 {statistics.median(r['prompt_tokens'] for r in rows):.0f}.",
        ]
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lookup.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
