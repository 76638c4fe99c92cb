"""``citewise db current`` / ``citewise db upgrade`` through the full command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli.main import app
from store.schema import head_revision


def invoke(data_dir: Path, url: str | None, *args: str) -> Result:
    # no config file from outside; the database is data_dir's SQLite, or the given URL
    env = {"CITEWISE_DATA_DIR": str(data_dir), "CITEWISE_CONFIG": None}
    env["CITEWISE_REGISTRY__URL"] = url
    return CliRunner().invoke(app, ["db", *args], env=env)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


def test_current_then_upgrade_then_current(tmp_path: Path, url: str | None) -> None:
    data = tmp_path / "data"  # not created yet: the command makes it
    head = head_revision()

    before = invoke(data, url, "current", "--json")
    assert before.exit_code == 0, before.output
    status = json.loads(before.stdout)
    assert (status["current"], status["head"], status["up_to_date"]) == (None, head, False)

    human = invoke(data, url, "current")
    assert human.exit_code == 0, human.output
    assert "none (no schema yet)" in human.stdout and "citewise db upgrade" in human.stdout

    upgraded = invoke(data, url, "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from none (no schema yet) to {head}" in upgraded.stdout

    again = invoke(data, url, "upgrade")
    assert again.exit_code == 0, again.output
    assert f"already at the newest revision {head}" in again.stdout

    after = invoke(data, url, "current")
    assert after.exit_code == 0, after.output
    assert f"current:  {head}" in after.stdout and "up to date" in after.stdout
    if url is None:
        assert (data / "registry.sqlite3").is_file()
        assert str(data / "registry.sqlite3") in after.stdout


def test_an_unreachable_database_is_one_error_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://citewise:s3cret@127.0.0.1:1/citewise"
    for command in ("current", "upgrade"):
        result = invoke(tmp_path, url, command)
        assert result.exit_code == 2
        assert "error:" in result.stderr and "citewise:***@127.0.0.1:1" in result.stderr
        assert "s3cret" not in result.output
