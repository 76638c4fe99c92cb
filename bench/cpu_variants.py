"""CPU kernels chosen at run time (issue 18, lever 1): the 0.5B's prompt and decode speed per
llama.cpp CPU build.

Configurations, each run in a process of its own (a process holds one llama.cpp and one CPU
backend), all with this venv's llama-cpp-python Python code (0.3.36):

- **static**: the venv's own libraries (the wheel from ../shared/wheels: one CPU backend
  linked in, built with the Makefile's former flags, AVX2/FMA/F16C, no AVX-512);
- **dl-auto**: the libraries of a ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`` build
  (``--dl-lib``, its ``llama_cpp/lib``, given as ``LLAMA_CPP_LIB_PATH``), the CPU variant
  picked by ggml through ``generation/llama_backends.py``, as ``LlamaCppGenerator`` does;
- **dl-VARIANT** (``--variants``, e.g. ``sse42 x64``): the same build with one
  ``libggml-cpu-VARIANT.so`` loaded by hand (``ggml_backend_load``), to show what the variant
  is worth.

Each run loads the model (Qwen2.5-0.5B Q4_K_M, n_ctx 2048, n_batch 512, ``--threads``
threads), warms up on 32 prompt tokens and one decode step, then reads a prompt of
``--prompt-tokens`` tokens from the sample corpus (prompt processing, tokens/s) and decodes
``--decode-tokens`` greedy tokens one at a time (decode, tokens/s). Rounds rotate the order of
the configurations, so drift in the machine's load hits them alike; the report gives medians.

Run: ``.venv/bin/python bench/cpu_variants.py --dl-lib DIR [--variants sse42 x64]
[--rounds 3]``. Results: bench/RESULTS.md ("## CPU kernels chosen at run time"),
bench/out/cpu-variants/results.json.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import (
    add_report_options,
    command_line,
    load1,
    markdown_table,
    provenance,
    provenance_lines,
    write_json,
    write_section,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "cpu-variants"
TITLE = "## CPU kernels chosen at run time (issue 18, lever 1)"
ISA_LABELS = (("amx_int8", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))
"""A section per kind of CPU: the best of these instruction sets /proc/cpuinfo lists."""
PROMPT_FILES = ("*.md", "*.txt", "*.html", "*.eml")
NOT_ISA = {"LLAMAFILE", "OPENMP", "REPACK"}  # cpu_features that name no instruction set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dl-lib", type=Path, help="llama_cpp/lib of a GGML_BACKEND_DL build")
    parser.add_argument("--variants", nargs="*", default=["sse42", "x64"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--prompt-tokens", type=int, default=1200)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--model", type=Path, help="a GGUF (default: the shipped 0.5B)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    add_report_options(parser, "cpu-variants/results.json")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)), flush=True)
        return
    if args.report_only:
        report(json.loads((OUT / "results.json").read_text()), args)
        return
    if args.model is None:
        from generation.model_catalog import QWEN_05B
        from generation.model_store import ensure_model

        args.model = ensure_model(QWEN_05B, Path.home() / ".cache" / "citewise" / "test-models")
    configs = ["static"]
    if args.dl_lib:
        configs += ["dl-auto", *(f"dl-{v}" for v in args.variants)]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    for r in range(args.rounds):
        shift = r % len(configs)
        for config in configs[shift:] + configs[:shift]:  # rotate who goes first
            result = run_worker(args, config)
            runs[config].append(result)
            print(f"round {r + 1} {config}: {result}", flush=True)
    result = {**provenance(), "command": command_line("cpu_variants.py"), "args": settings(args)}
    result["isa"] = isa_label()
    result["runs"] = runs
    write_json(OUT / "results.json", result)
    report(result, args)


def isa_label() -> str:
    """The best instruction set of ``ISA_LABELS`` this CPU lists (the section's name)."""
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return next((label for flag, label in ISA_LABELS if flag in flags), "x86-64")


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the report records of the arguments."""
    keys = ("dl_lib", "variants", "rounds", "threads", "prompt_tokens", "decode_tokens", "model")
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k in keys}


def run_worker(args: argparse.Namespace, config: str) -> dict[str, Any]:
    """One measured run of ``config`` in a fresh process."""
    env = dict(os.environ)
    if config != "static":
        env["LLAMA_CPP_LIB_PATH"] = str(args.dl_lib)
    command = [sys.executable, __file__, "--worker", config, "--model", str(args.model)]
    command += ["--threads", str(args.threads), "--prompt-tokens", str(args.prompt_tokens)]
    command += ["--decode-tokens", str(args.decode_tokens)]
    load = load1()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode < 0:
        # A variant that dies on this CPU (SIGILL) is a finding, not a failed benchmark.
        died = signal.Signals(-done.returncode).name
        print(f"{config} died with {died}:\n{done.stderr[-1000:]}", file=sys.stderr)
        return {"died": died, "load1": load}
    if done.returncode != 0:
        raise SystemExit(f"{config} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load1": load}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Load the model on the configured CPU backend, then time prompt and decode."""
    import llama_cpp
    import numpy as np

    from generation.llama_backends import ensure_backends

    lib = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")
    if args.worker not in {"static", "dl-auto"}:
        variant = lib / f"libggml-cpu-{args.worker.removeprefix('dl-')}.so"
        ggml = ctypes.CDLL("libggml.so.0", mode=os.RTLD_NOLOAD | os.RTLD_NOW)
        ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        if not ggml.ggml_backend_load(os.fsencode(variant)):
            raise SystemExit(f"ggml_backend_load({variant}) failed")
    backends = ensure_backends(lib)
    llama = llama_cpp.Llama(
        model_path=str(args.model),
        n_ctx=2048,
        n_batch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    tokens = prompt_tokens(llama, args.prompt_tokens)
    n_vocab = llama.n_vocab()

    def next_token() -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llama.ctx), shape=(n_vocab,))
        return int(logits.argmax())

    llama.eval(tokens[:32])  # warm-up: threads, weights paged in, both kernel paths
    llama.eval([next_token()])
    llama.reset()
    started = time.perf_counter()
    llama.eval(tokens)
    prompt_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.decode_tokens):
        llama.eval([next_token()])
    decode_s = time.perf_counter() - started
    return {
        "cpu_library": backends.cpu_library,
        "cpu_features": list(backends.cpu_features),
        "prompt_tokens": len(tokens),
        "prompt_tps": len(tokens) / prompt_s,
        "decode_tps": args.decode_tokens / decode_s,
    }


def prompt_tokens(llama: Any, count: int) -> list[int]:
    """The first ``count`` tokens of the sample corpus's text files (repeated if short)."""
    corpus = REPO / "samples" / "corpus"
    files = sorted(p for pattern in PROMPT_FILES for p in corpus.rglob(pattern))
    text = "\n\n".join(p.read_text(errors="replace") for p in files)
    tokens: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    while len(tokens) < count:
        tokens += tokens
    return tokens[:count]


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the table and, unless ``--no-write``, replace this section of RESULTS.md."""
    runs: dict[str, list[dict[str, Any]]] = result["runs"]
    died = {c: rs[0]["died"] for c, rs in runs.items() if any("died" in r for r in rs)}
    ran = {c: rs for c, rs in runs.items() if c not in died}
    pp = {c: statistics.median(r["prompt_tps"] for r in rs) for c, rs in ran.items()}
    tg = {c: statistics.median(r["decode_tps"] for r in rs) for c, rs in ran.items()}
    rows = [
        (
            config,
            f"`{rs[0]['cpu_library']}`",
            " ".join(f for f in rs[0]["cpu_features"] if f not in NOT_ISA),
            f"{pp[config]:.1f}",
            ", ".join(f"{r['prompt_tps']:.1f}" for r in rs),
            f"{tg[config]:.1f}",
            ", ".join(f"{r['decode_tps']:.1f}" for r in rs),
            f"{pp[config] / pp['static']:.2f} / {tg[config] / tg['static']:.2f}",
        )
        for config, rs in ran.items()
    ]
    rows += [(c, "", "", f"died ({why})", "", "", "", "") for c, why in died.items()]
    header = ["build", "CPU backend", "compiled for", "prompt tok/s", "rounds"]
    header += ["decode tok/s", "rounds", "vs static (prompt / decode)"]
    s = result["args"]
    lines = [
        f"{TITLE} on {result.get('isa', 'AVX2')}",
        "",
        *provenance_lines(result),
        f"- Command: `{result['command']}`",
        f"- {Path(s['model']).name}, {s['prompt_tokens']}-token prompt (n_batch 512), "
        f"{s['decode_tokens']} greedy decode steps, {s['threads']} threads; medians of "
        f"{s['rounds']} rotated rounds; load average (1 min) "
        f"{min(r['load1'] for rs in runs.values() for r in rs):.2f} to "
        f"{max(r['load1'] for rs in runs.values() for r in rs):.2f}",
        "",
        markdown_table(header, rows, text_columns=(0, 1, 2, 4, 6)),
    ]
    if args.note:
        lines += ["", args.note]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write_results:
        write_section(section)


if __name__ == "__main__":
    main()
