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

Run: ``.venv/bin/python bench/answer_latency.py [--models qwen2.5-0.5b qwen2.5-1.5b]
[--limit N]``. Results go to bench/RESULTS.md ("## Answer latency") and bench/out/.
"""

from __future__ import annotations

import argparse
import json
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
from bench.report import git_revision, machine, write_section
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
        "abstained_after_generation": sum(r["ours"]["abstained"] for r in generated),
        "same_text": sum(bool(r.get("same_text")) for r in generated),
        "rows": rows,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-0.5b", "qwen2.5-1.5b"])
    parser.add_argument("--limit", type=int, default=None, help="First N questions only.")
    parser.add_argument("--fresh", action="store_true", help="Re-ingest the corpus.")
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
    ingest(settings)
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
