"""``citewise review`` through Typer's runner, on a SQLite registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import composition
from api.cli.main import app
from core.settings import Settings
from evals.dataset import load_jsonl
from tests.unit.store.test_review_store import EVE, abstained_answer, plain_answer, withheld_answer

WITHHELD, ABSTAINED, PLAIN = withheld_answer(), abstained_answer(), plain_answer()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.load()
    reviews = composition.build_review_store(settings)
    feedback = composition.build_feedback_store(settings)
    registry = composition.build_registry(settings)
    try:
        for answer in (WITHHELD, ABSTAINED, PLAIN):
            reviews.record(answer, EVE, answer.question)
        feedback.add(ABSTAINED.answer_id, "eve", "down", comment="should be answerable")
        registry.begin_version("d1", "file:///corpus/parental.md", file_type="md")
    finally:
        for store in (reviews, feedback, registry):
            store.close()
    return settings


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["review", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_show_mark_and_export(settings: Settings, tmp_path: Path) -> None:
    listed = json.loads(run("list", "--json"))
    assert [i["answer_id"] for i in listed] == [ABSTAINED.answer_id, WITHHELD.answer_id]
    assert listed[0]["reasons"] == ["abstained_disputed", "thumbs_down"]
    table = run("list")
    assert WITHHELD.answer_id in table and "2 pending answers" in table
    shown = run("show", WITHHELD.answer_id)
    assert "withheld" in shown and "Unused days double every year" in shown

    run("mark", WITHHELD.answer_id, "correct", "--reviewer", "rita")
    marked = run(
        "mark",
        ABSTAINED.answer_id,
        "incorrect",
        "--note",
        "in the parental leave policy",
        "--source",
        "d1",  # a document id: stored as its source URI
        "--corrected-answer",
        "Sixteen weeks.",
        "--reviewer",
        "rita",
    )
    assert "incorrect" in marked
    detail = json.loads(run("show", ABSTAINED.answer_id, "--json"))
    assert detail["review"]["source"] == "file:///corpus/parental.md"
    assert detail["answer"]["abstained"] is True
    assert json.loads(run("list", "--json")) == []
    assert len(json.loads(run("list", "--status", "reviewed", "--json"))) == 2

    examples_file = tmp_path / "out" / "examples.jsonl"
    run("export", "--format", "examples", "-o", str(examples_file))
    examples = {e.id: e for e in load_jsonl(examples_file)}
    missed = examples[ABSTAINED.answer_id]
    assert missed.gold_documents == ("file:///corpus/parental.md",)
    assert missed.reference_answer == "Sixteen weeks." and missed.answerable
    assert examples[WITHHELD.answer_id].reference_answer == WITHHELD.text
    pairs_file = tmp_path / "pairs.jsonl"
    run("export", "--format", "judge-pairs", "-o", str(pairs_file))
    pairs = [json.loads(line) for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    assert [(p["claim"], p["label"]) for p in pairs] == [(WITHHELD.text, "supported")]


@pytest.mark.parametrize(
    "args",
    [
        ["mark", "nope", "correct"],
        ["mark", ABSTAINED.answer_id, "correct", "--source", "no-such-doc"],
        ["show", "nope"],
    ],
)
def test_unknown_answers_and_documents_fail(settings: Settings, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["review", *args])
    assert result.exit_code == 2
    assert "error" in result.output


def test_an_unknown_verdict_or_format_is_refused(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["review", "mark", WITHHELD.answer_id, "maybe"]).exit_code == 2
    out = str(tmp_path / "x.jsonl")
    assert runner.invoke(app, ["review", "export", "--format", "csv", "-o", out]).exit_code == 2
