"""What every benchmark shares: where its outputs go, the provenance a report records (the
machine, the code revision, the command), its markdown (tables, the section it owns in
bench/RESULTS.md), and the statistics and process measurements the scripts report.

Each benchmark script keeps only its measurement and the lines of its own section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
BOOTSTRAP_SAMPLES = 10_000


# -- arguments ---------------------------------------------------------------------------------


def add_report_options(parser: argparse.ArgumentParser, json_name: str) -> None:
    """The options every benchmark takes about its report: ``--no-write`` (``write_results``),
    ``--report-only`` and ``--note``."""
    parser.add_argument(
        "--no-write",
        dest="write_results",
        action="store_false",
        help="print only; leave RESULTS.md alone",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help=f"re-render the report and RESULTS.md from bench/out/{json_name}, run nothing",
    )
    parser.add_argument("--note", help="a line of context for RESULTS.md (e.g. machine load)")


def add_subsample_options(parser: argparse.ArgumentParser, docs: str, queries: str) -> None:
    """``--limit-docs`` and ``--limit-queries`` for a quick run on a subsample (check them with
    ``check_subsample``)."""
    parser.add_argument("--limit-docs", type=int, default=None, help=docs)
    parser.add_argument("--limit-queries", type=int, default=None, help=queries)


def check_subsample(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a subsample limit below 1."""
    for name in ("limit_docs", "limit_queries"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")


def repo_relative(path: Path) -> str:
    """``path`` relative to the repository when it can be, for reports."""
    try:
        return os.path.relpath(path, REPO)
    except ValueError:
        return str(path)


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """How this run was started, for the report: ``python bench/SCRIPT ARGS``."""
    shown = list(argv if argv is not None else sys.argv[1:])
    return shlex.join(["python", f"bench/{script}", *shown])


# -- provenance --------------------------------------------------------------------------------


def now() -> str:
    """The local time with its UTC offset, to the second."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """Cores available to us (as ``nproc`` counts them) and the CPU model."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_revision() -> str:
    """The checked-out commit, marked dirty when the working tree has changes."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}{' (working tree dirty)' if dirty else ''}"


def provenance() -> dict[str, Any]:
    """The head of every report: ``date``, ``machine`` and ``git``."""
    return {"date": now(), "machine": machine(), "git": git_revision()}


# -- markdown ----------------------------------------------------------------------------------


def provenance_lines(report: dict[str, Any]) -> list[str]:
    """The section's first bullets: date, machine and code revision."""
    m = report["machine"]
    return [
        f"- Date: {report['date']}",
        f"- Machine: {m['nproc']} cores (`nproc`), {m['cpu_model']}; Python {m['python']}",
        f"- Code: {report['git']}",
    ]


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: Collection[int] = (0,)
) -> str:
    """A markdown table: ``text_columns`` (indexes) left-aligned, every other column right."""
    rule = ["---" if i in text_columns else "--:" for i in range(len(header))]
    lines = [header, rule, *([str(cell) for cell in row] for row in rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def replace_section(markdown: str, section: str) -> str:
    """``markdown`` with the section whose title line starts ``section`` replaced by it
    (appended when absent); every other section is left as it is."""
    title = section.splitlines()[0]
    lines = markdown.splitlines()
    try:
        start = lines.index(title)
    except ValueError:
        body = markdown.rstrip("\n")
        return f"{body}\n\n{section.rstrip()}\n" if body else f"{section.rstrip()}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before = "\n".join(lines[:start]).rstrip("\n")
    after = "\n".join(lines[end:]).strip("\n")
    parts = [p for p in (before, section.rstrip(), after) if p]
    return "\n\n".join(parts) + "\n"


def write_section(section: str, path: Path = RESULTS_MD) -> None:
    """Replace one section of RESULTS.md, re-reading the file right before an atomic write
    (benchmarks running side by side each keep the others' sections)."""
    current = path.read_text() if path.is_file() else "# Benchmarks\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(replace_section(current, section))
    tmp.replace(path)


def write_json(path: Path, report: dict[str, Any], *, indent: int = 2) -> None:
    """The raw report, beside the others in bench/out/ (git-ignored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=indent, ensure_ascii=False) + "\n")


# -- statistics --------------------------------------------------------------------------------


def p50_p95(seconds: Sequence[float | None]) -> tuple[float, float]:
    """Median and 95th percentile in seconds, ignoring missing values."""
    p = percentiles([s for s in seconds if s is not None])
    return p["p50_ms"] / 1000, p["p95_ms"] / 1000


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def paired_bootstrap(deltas: np.ndarray, seed: int) -> tuple[float, float]:
    """A 95% interval of the mean of paired per-query differences."""
    from evals.retrieval_metrics import bootstrap_interval

    return bootstrap_interval(deltas, seed=seed, samples=BOOTSTRAP_SAMPLES)


# -- process measurements ----------------------------------------------------------------------


def rss_mb() -> float:
    """Current resident set size of this process."""
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load1() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def disk_mb(path: Path) -> float:
    """Space allocated on disk under ``path`` (blocks, so sparse files count what they use)."""
    total = 0
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_blocks * 512
    return round(total / 2**20, 1)
