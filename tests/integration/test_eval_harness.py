"""The whole harness, as the ML team runs it: ``citewise eval run`` over a tiny corpus with the
real parser, MiniLM, qdrant-edge, the real 0.5B model and real judges, then ``eval compare``.

Two constructed answers ride in the generation cache (exactly as the harness stores its own),
so their grades are known by hand: a claim whose figure is not in its source must count as a
hallucination for every judge, a sentence quoting its one cited source must score citation
precision and recall 1. Two questions go to the real model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.eval_system import run_config_id
from api.cli.main import app
from core.settings import Settings
from evals.dataset import EvalExample, write_jsonl
from evals.generation_cache import CachedAnswer, GenerationCache, cache_key
from generation.answer_types import Answer, SentenceKind, SentenceVerdict
from retrieval.context import Source

pytestmark = [pytest.mark.model, pytest.mark.slow]

LEAVE = (
    "# Leave policy\n\n## Vacation\n\nEmployees accrue 1.75 days of paid vacation per month, "
    "21 days a year.\n\n## Parental leave\n\nEvery new parent gets 18 weeks of fully paid "
    "parental leave.\n"
)
TRAVEL = "# Travel\n\n## Meals\n\nMeals are reimbursed up to 60 euros per day while travelling.\n"
SOURCE = Source(
    number=1,
    doc_id="d-leave",
    chunk_ids=("c1",),
    title="Leave policy",
    source_uri="file:///corpus/leave.md",
    section_path=("Parental leave",),
    text="Every new parent gets 18 weeks of fully paid parental leave.",
    score=0.8,
    token_count=14,
)


def constructed(question: str, sentence: str) -> Answer:
    verdict = SentenceVerdict(
        sentence=sentence + " [1]",
        span=(0, len(sentence) + 4),
        cited=(1,),
        kind=SentenceKind.CLAIM,
        supported=True,
        score=1.0,
        reason="constructed",
    )
    return Answer(question=question, text=verdict.sentence, verdicts=(verdict,), sources=(SOURCE,))


def seed_cache(path: Path, examples: list[EvalExample]) -> None:
    """Store the two constructed answers as the harness stores generations."""
    config_id = run_config_id(Settings.load())
    cache = GenerationCache(path)
    for example, sentence in [
        (examples[0], "Every new parent gets 18 weeks of fully paid parental leave."),
        (examples[1], "Every new parent gets 26 weeks of fully paid parental leave."),
    ]:
        cache.put(
            CachedAnswer(
                key=cache_key(example, config_id),
                example_id=example.id,
                answer=constructed(example.question, sentence),
                latency_s=0.0,
            )
        )


def test_eval_run_and_compare_on_a_tiny_dataset(  # noqa: PLR0915 - one story, told in order
    tmp_path: Path, small_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(LEAVE)
    (corpus / "travel.md").write_text(TRAVEL)
    examples = [
        EvalExample(
            id="perfect",
            question="How long is parental leave for a new parent?",
            reference_answer="18 weeks",
            gold_documents=("leave.md",),
        ),
        EvalExample(
            id="invented",
            question="How long is parental leave, in weeks?",
            reference_answer="18 weeks",
            gold_documents=("leave.md",),
        ),
        EvalExample(
            id="meals",
            question="How much are meals reimbursed while travelling?",
            reference_answer="Up to 60 euros per day.",
            gold_documents=("travel.md",),
        ),
        EvalExample(
            id="unanswerable",
            question="What is the airline seat policy for flights to Mars?",
            answerable=False,
        ),
    ]
    dataset = tmp_path / "tiny.jsonl"
    write_jsonl(examples, dataset)
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEWISE_LLM__MODEL", str(small_gguf))
    monkeypatch.setenv("CITEWISE_LLM__MAX_ANSWER_TOKENS", "64")
    out = tmp_path / "eval"

    seed_cache(out / "cache" / "tiny.jsonl", examples)

    runner = CliRunner()
    args = ["eval", "run", "--dataset", str(dataset), "--corpus", str(corpus), "--out", str(out)]
    first = runner.invoke(app, [*args, "--judges", "lexical"])
    assert first.exit_code == 0, first.output
    (folder,) = (out / "runs").iterdir()
    result = json.loads((folder / "result.json").read_text())
    assert (folder / "report.html").stat().st_size > 10_000
    by_id = {r["example"]["id"]: r for r in result["examples"]}

    perfect = by_id["perfect"]["grades"]["lexical"]
    invented = by_id["invented"]["grades"]["lexical"]
    assert (perfect["hallucinated"], perfect["citation_precision"], perfect["citation_recall"]) == (
        False,
        1.0,
        1.0,
    )
    assert invented["hallucinated"] and invented["faithfulness"] == 0.0
    assert by_id["perfect"]["cached"] and not by_id["meals"]["cached"]
    assert by_id["meals"]["answer"]["prompt_tokens"] > 0

    # The summary is what the per-question records say, recomputed by hand.
    answered = [r for r in result["examples"] if not r["answer"]["abstained"]]
    expected_rate = sum(r["grades"]["lexical"]["hallucinated"] for r in answered) / len(answered)
    assert result["summary"]["lexical.hallucination_rate"] == pytest.approx(expected_rate)
    assert expected_rate >= 1 / len(answered)  # "invented" at least
    declined = [r for r in result["examples"] if r["answer"]["abstained"]]
    unanswerable_declined = by_id["unanswerable"]["answer"]["abstained"]
    assert result["summary"]["abstention_recall"] == float(unanswerable_declined)
    if declined:
        assert result["summary"]["abstention_precision"] == pytest.approx(
            sum(not r["example"]["answerable"] for r in declined) / len(declined)
        )
    assert by_id["perfect"]["gold_recall"] == 1.0  # its source's URI ends with /leave.md

    # Same configuration again: every answer comes from the cache; the gate passes.
    second = runner.invoke(app, [*args, "--judges", "lexical"])
    assert second.exit_code == 0, second.output
    runs = sorted((out / "runs").iterdir(), key=os.path.getmtime)
    again = json.loads((runs[-1] / "result.json").read_text())
    assert all(r["cached"] for r in again["examples"])
    gate = ["--gate", "lexical.hallucination_rate=0.0"]
    same = runner.invoke(app, ["eval", "compare", *[str(r / "result.json") for r in runs], *gate])
    assert same.exit_code == 0, same.output

    # An injected regression fails it: every answer now states an invented figure.
    worse = json.loads((runs[-1] / "result.json").read_text())
    for record in worse["examples"]:
        if not record["answer"]["abstained"]:
            record["grades"]["lexical"]["hallucinated"] = True
    worse_path = tmp_path / "worse.json"
    worse_path.write_text(json.dumps(worse))
    failed = runner.invoke(
        app, ["eval", "compare", str(runs[0] / "result.json"), str(worse_path), *gate]
    )
    assert failed.exit_code == 1, failed.output
    assert "REGRESSED" in failed.output
