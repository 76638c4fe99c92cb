"""``citewise feedback export`` through Typer's runner, on a SQLite registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import composition
from api.cli.main import app
from core.settings import Settings

FIELDS = {
    "feedback_id",
    "answer_id",
    "user_id",
    "rating",
    "comment",
    "question",
    "answer_text",
    "created_at",
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.load()
    store = composition.build_feedback_store(settings)
    store.add("a1", "eve", "up", question="How much vacation?", answer_text="1.75 days [1]")
    store.add("a2", "hana", "down", comment="wrong — old policy")
    store.close()
    return settings


def test_export_writes_jsonl_to_a_file(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "feedback.jsonl"
    result = CliRunner().invoke(app, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["answer_id"] for r in rows] == ["a1", "a2"]
    assert all(set(r) == FIELDS for r in rows)
    first, second = rows
    assert (first["user_id"], first["rating"], first["comment"]) == ("eve", "up", None)
    assert (first["question"], first["answer_text"]) == ("How much vacation?", "1.75 days [1]")
    assert second["comment"] == "wrong — old policy"
    assert first["created_at"].endswith("Z")


def test_export_to_stdout_filtered_by_rating(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["feedback", "export", "--rating", "down"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["answer_id"] == "a2"


def test_export_refuses_an_unknown_rating(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["feedback", "export", "--rating", "meh"])
    assert result.exit_code == 2


def test_export_of_no_feedback_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "empty"))
    out = tmp_path / "none.jsonl"
    result = CliRunner().invoke(app, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == ""
