"""A run as files: the JSON result and a self-contained HTML report (plots embedded as PNG).

The HTML needs nothing beside it (no scripts, styles or images to fetch), so it can be
attached to a CI job or mailed as is.
"""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

from evals.answer_run import ExampleResult, RunResult
from evals.reference_checks import Outcome

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left}th{background:#f3f3f3}details{border:1px solid #ddd;margin:.4em 0;padding:.4em}
summary{cursor:pointer}.bad{color:#b00020}.ok{color:#1b5e20}.muted{color:#666}
blockquote{margin:.3em 1em;color:#444;border-left:3px solid #ccc;padding-left:.6em}
"""


def write_result(run: RunResult, path: Path) -> None:
    """The run as JSON (the input of ``eval compare`` and of the HTML report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.model_dump_json(indent=1), encoding="utf-8")


def load_result(path: Path) -> RunResult:
    """A run written by ``write_result``."""
    return RunResult.model_validate_json(path.read_text(encoding="utf-8"))


def write_html(run: RunResult, path: Path) -> None:
    """The self-contained HTML report: summary, plots, per-question drill-down."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Citewise eval {escape(run.dataset)} {escape(run.run_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Citewise evaluation: {escape(run.dataset)}</h1>",
        "<p class='muted'>"
        + escape(
            f"run {run.run_id} · {run.started_at:%Y-%m-%d %H:%M} UTC · {run.seconds:.0f} s · "
            f"backend {run.backend} · config {run.config_id} · judges {', '.join(run.judges)}"
        )
        + "</p>",
        "<h2>Summary</h2>",
        _summary_table(run),
        "<h2>Plots</h2>",
        _plots(run),
        "<h2>Questions</h2>",
        *(_example(r, run.judges) for r in run.examples),
        "</body></html>",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


def _summary_table(run: RunResult) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{_fmt(value)}</td></tr>"
        for name, value in run.summary.items()
    )
    return f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _plots(run: RunResult) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and no GUI toolkit needed
    import matplotlib.pyplot as plt

    figure, (grounding, latency) = plt.subplots(1, 2, figsize=(11, 3.6))
    names = ["hallucination_rate", "faithfulness", "citation_recall", "citation_precision"]
    width = 0.8 / max(1, len(run.judges))
    for j, judge in enumerate(run.judges):
        values = [run.summary.get(f"{judge}.{n}") or 0.0 for n in names]
        grounding.bar([i + j * width for i in range(len(names))], values, width, label=judge)
    grounding.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    grounding.set_xticklabels([n.replace("_", "\n") for n in names], fontsize=8)
    grounding.set_ylim(0, 1)
    grounding.set_title("Grounding and citations, by judge")
    grounding.legend(fontsize=8)
    seconds = [r.latency_s for r in run.examples if r.answer is not None]
    latency.hist(seconds or [0.0], bins=20)
    latency.set_title("Answer latency (s, as generated)")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='plots' src='data:image/png;base64,{encoded}'>"


def _flags(result: ExampleResult, judges: list[str]) -> list[str]:
    """The coloured labels of a question's summary line."""
    example, answer = result.example, result.answer
    flags = []
    if result.error:
        flags.append("<span class='bad'>error</span>")
    elif answer is not None and answer.abstained:
        flags.append(
            "<span class='ok'>declined</span>"
            if not example.answerable
            else "<span class='bad'>declined (answerable)</span>"
        )
    elif not example.answerable:
        flags.append("<span class='bad'>answered (unanswerable)</span>")
    if result.outcome is not None:
        good = result.outcome in (Outcome.CORRECT, Outcome.ABSTAINED_UNANSWERABLE)
        flags.append(f"<span class='{'ok' if good else 'bad'}'>{result.outcome.value}</span>")
    for judge in judges:
        grade = result.grades.get(judge)
        if grade is not None and grade.hallucinated:
            flags.append(f"<span class='bad'>unsupported per {escape(judge)}</span>")
    return flags


def _example(result: ExampleResult, judges: list[str]) -> str:
    example, answer = result.example, result.answer
    flags = _flags(result, judges)
    head = f"{escape(example.id)}: {escape(example.question)} {' '.join(flags)}"
    body = [f"<p><b>Gold:</b> {escape(', '.join(example.gold_documents) or '(none)')}"]
    if example.reference_answer:
        body.append(f"<br><b>Reference:</b> {escape(example.reference_answer[:1500])}")
    if example.must_contain:
        keys = " · ".join(" / ".join(key) for key in example.must_contain)
        body.append(f"<br><b>Must contain:</b> {escape(keys)}")
    body.append("</p>")
    if result.error:
        body.append(f"<p class='bad'>{escape(result.error)}</p>")
    if answer is not None:
        body.append(f"<p><b>Answer</b> ({result.latency_s:.1f} s):</p>")
        body.append(f"<blockquote>{escape(answer.text)}</blockquote>")
        for statement in answer.withheld:
            body.append(
                f"<p class='bad'>withheld: {escape(statement.sentence)} "
                f"<span class='muted'>({escape(statement.reason)})</span></p>"
            )
        if answer.model_text is not None and answer.model_text.strip() != answer.text.strip():
            body.append(f"<p class='muted'><b>Model text:</b> {escape(answer.model_text)}</p>")
        metrics = f"token F1 {_fmt(result.token_f1)} · similarity {_fmt(result.similarity)}"
        body.append(f"<p class='muted'>{metrics} · gold recall {_fmt(result.gold_recall)}</p>")
        for judge in judges:
            grade = result.grades.get(judge)
            if grade is None or not grade.sentences:
                continue
            rows = "".join(
                f"<tr><td class='{'ok' if s.supported else 'bad'}'>"
                f"{'supported' if s.supported else 'unsupported'} ({s.score:.2f})</td>"
                f"<td>{escape(s.sentence)}</td><td>{escape(str(list(s.cited)))}</td>"
                f"<td class='muted'>{escape(s.reason)}</td></tr>"
                for s in grade.sentences
            )
            body.append(f"<p><b>{escape(judge)}</b></p><table>{rows}</table>")
        sources = "".join(f"<li>[{s.number}] {escape(s.locator())}</li>" for s in answer.sources)
        body.append(f"<p><b>Sources</b></p><ul>{sources}</ul>")
    return f"<details><summary>{head}</summary>{''.join(body)}</details>"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
