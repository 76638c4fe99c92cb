"""``citewise keys`` through its Typer app: create (JSON and human), list, revoke."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from api.cli.keys import keys_app
from core.models import Principal
from store.key_store import ApiKeyStore


def invoke(data_dir: Path, *args: str) -> Result:
    # the configured database is the one under data_dir: no config file or URL from outside
    env = {
        "CITEWISE_DATA_DIR": str(data_dir),
        "CITEWISE_CONFIG": None,
        "CITEWISE_REGISTRY__URL": None,
    }
    return CliRunner().invoke(keys_app, list(args), env=env)


def open_store(data_dir: Path) -> ApiKeyStore:
    return ApiKeyStore(f"sqlite:///{data_dir / 'registry.sqlite3'}")


def test_create_list_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data"  # not created yet: the command makes it
    created = invoke(
        data,
        "create",
        "--user",
        "alice",
        "--groups",
        "hr,eng",
        "--group",
        "ops",
        "--name",
        "ci",
        "--json",
    )
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    assert (key["user_id"], key["groups"], key["name"]) == ("alice", ["hr", "eng", "ops"], "ci")
    assert key["token"].startswith(f"cw_{key['key_id']}_")
    assert "cannot be shown again" in created.stderr

    store = open_store(data)
    try:
        assert store.authenticate(key["token"]) == Principal(
            user_id="alice", groups=("hr", "eng", "ops")
        )
    finally:
        store.close()

    human = invoke(data, "create", "--user", "bob")
    assert human.exit_code == 0, human.output
    token_line = human.stdout.strip().splitlines()[-1]
    assert token_line.startswith("cw_") and "cannot be shown again" in human.stderr

    listing = json.loads(invoke(data, "list", "--json").stdout)
    assert [k["user_id"] for k in listing] == ["alice", "bob"]
    assert all("token" not in k and k["revoked_at"] is None for k in listing)
    assert listing[0]["last_used_at"] is not None and listing[1]["last_used_at"] is None

    revoked = invoke(data, "revoke", key["key_id"])
    assert revoked.exit_code == 0 and f"revoked {key['key_id']}" in revoked.stdout
    assert invoke(data, "revoke", key["key_id"]).exit_code == 0  # idempotent
    listing = json.loads(invoke(data, "list", "--json").stdout)
    assert listing[0]["revoked_at"] is not None and listing[1]["revoked_at"] is None

    table = invoke(data, "list")
    assert table.exit_code == 0
    assert key["key_id"] in table.stdout and "2 keys, 1 active" in table.stdout
    assert key["token"] not in table.stdout

    store = open_store(data)
    try:
        assert store.authenticate(key["token"]) is None
        assert store.authenticate(token_line) == Principal(user_id="bob")
    finally:
        store.close()


def test_errors_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    unknown = invoke(data, "revoke", "0123456789ab")
    assert unknown.exit_code == 2 and "no API key 0123456789ab" in unknown.stderr
    empty = invoke(data, "create", "--user", " ")
    assert empty.exit_code == 2
    missing = invoke(data, "create")
    assert missing.exit_code == 2
