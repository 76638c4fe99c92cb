"""bench/RESULTS.md: each benchmark owns one ``## `` section and replaces only that one."""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


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
