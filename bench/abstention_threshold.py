"""Calibrates ``answer.min_retrieval_similarity``: the dense cosine below which Citewise
abstains without asking the model.

Over the sample corpus, the best dense cosine similarity (MiniLM, the principal's access
applied, exactly as the answer path computes it) is measured for:

- positives: the answerable sample questions (samples/questions.yaml), asked as a principal
  allowed to read their source;
- near negatives: the unanswerable sample questions (on topic, but not in the documents);
- far negatives: questions about other corpora, asked of this one: the SEC 10-Q questions
  and the SciFact claims from ../shared/data (skipped when absent; CITEWISE_SHARED_DATA).

A threshold must not abstain on any answerable question, so the candidate is the lowest
positive score minus a margin; the report shows what share of each negative set it stops
before generation (the rest is left to the model and the grounding check).

Run: ``.venv/bin/python bench/abstention_threshold.py``; results in bench/RESULTS.md.
"""

from __future__ import annotations

import csv
import json
import os
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
from ingest.acl_policy import AclPolicy
from retrieval.query import SearchMode

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "abstention"
SHARED = Path(os.environ.get("CITEWISE_SHARED_DATA", REPO.parent / "shared" / "data"))
MARGIN = 0.05
SHOWN = (0.2, 0.25, 0.3, 0.35)
"""Thresholds whose effect the report shows side by side."""


def far_negatives() -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    sec = SHARED / "sec-10q" / "sec-10-q" / "data" / "v1" / "qna_data.csv"
    if sec.is_file():
        with sec.open(newline="", encoding="utf-8-sig") as f:
            sets["SEC 10-Q questions"] = [row["Question"] for row in csv.DictReader(f)]
    scifact = SHARED / "scifact" / "queries.jsonl"
    if scifact.is_file():
        lines = scifact.read_text().splitlines()
        sets["SciFact claims"] = [json.loads(line)["text"] for line in lines if line.strip()]
    return sets


def main() -> None:
    questions = yaml.safe_load((REPO / "samples" / "questions.yaml").read_text())
    settings = Settings.load(data_dir=OUT / "data")
    with composition.open_store(settings) as store:
        composition.build_pipeline(settings, store).run(
            [REPO / "samples" / "corpus"],
            policy=AclPolicy.from_file(REPO / "samples" / "acl.yaml"),
        )
        searcher = composition.build_searcher(settings, store.index)

        def best(question: str, principal: Principal) -> float:
            hits = searcher.search(question, principal, k=1, mode=SearchMode.DENSE)
            return hits[0].score if hits else 0.0

        hr = Principal(user_id="bench", groups=("hr",))
        employee = Principal(user_id="bench")
        positives = [
            best(q["question"], hr if q.get("restricted") else employee)
            for q in questions
            if q["answerable"]
        ]
        negatives = {
            "unanswerable sample questions": [
                best(q["question"], hr) for q in questions if not q["answerable"]
            ]
        }
        for name, texts in far_negatives().items():
            negatives[name] = [best(t, hr) for t in texts]
    threshold = round(min(positives) - MARGIN, 2)
    rows: list[dict[str, Any]] = [
        _row("answerable sample questions (must pass)", positives, threshold)
    ]
    rows += [_row(name, scores, threshold) for name, scores in negatives.items()]
    env = {"machine": machine(), "revision": git_revision(), "date": time.strftime("%Y-%m-%d")}
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"env": env, "threshold": threshold, "rows": rows}
    results = {"env": env, "threshold": threshold, "rows": rows}
    (OUT / "results.json").write_text(json.dumps(results))
    lines = [
        "## Abstention threshold (bench/abstention_threshold.py)",
        "",
        f"Revision {env['revision']}, {env['date']}. Best dense cosine (MiniLM) between a "
        "question and the sample corpus, as the answer path measures it. Candidate threshold "
        f"= lowest answerable score - {MARGIN} = **{threshold}**.",
        "",
        "| questions | n | min | median | max | "
        + " | ".join(f"abstain early at {t}" for t in SHOWN)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(SHOWN),
    ]
    for row in rows:
        early = " | ".join(f"{row['below_each'][t]}/{row['n']}" for t in SHOWN)
        lines.append(
            f"| {row['set']} | {row['n']} | {row['min']:.3f} | {row['median']:.3f} "
            f"| {row['max']:.3f} | {early} |"
        )
    lines += [
        "",
        "On-topic questions the documents don't answer score like answerable ones: a "
        "similarity threshold cannot catch them, so they reach the model, which must decline "
        "or be caught by the grounding check.",
    ]
    section = "\n".join(lines)
    write_section(section)
    print(section)


def _row(name: str, scores: list[float], threshold: float) -> dict[str, Any]:
    return {
        "set": name,
        "n": len(scores),
        "min": min(scores),
        "median": statistics.median(scores),
        "max": max(scores),
        "below": sum(s < threshold for s in scores),
        "below_each": {t: sum(s < t for s in scores) for t in SHOWN},
    }


if __name__ == "__main__":
    main()
