"""``citewise audit export|purge`` and the key commands' audit rows, on SQLite and on the local
PostgreSQL server (the real CLI in-process, the real store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.composition.auditing import periodic_purge
from core.models import Principal
from core.settings import Settings
from store.audit_store import AuditAction, AuditStore, _AuditRow

EVE = Principal(user_id="eve", groups=("public",))
HANA = Principal(user_id="hana", groups=("hr",))


@pytest.fixture
def audit(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AuditStore]:
    monkeypatch.delenv("CITEWISE_CONFIG", raising=False)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CITEWISE_REGISTRY__URL", database_url)
    store = AuditStore(database_url)
    yield store
    store.close()


def export(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["audit", "export", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_key_changes_are_recorded_and_export_filters(audit: AuditStore, tmp_path: Path) -> None:
    created = CliRunner().invoke(app, ["keys", "create", "--user", "hana", "--groups", "hr,public"])
    assert created.exit_code == 0, created.output
    key_id = created.stdout.split("created key ")[1].split()[0]
    revoked = CliRunner().invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    audit.record(AuditAction.ASK, EVE, question="q1", doc_ids=["leave"], outcome="answered")
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    audit.record(AuditAction.SEARCH, HANA, question="q2", doc_ids=["salary-bands"])

    rows = export()
    assert [r["action"] for r in rows] == ["key_create", "key_revoke", "ask", "search"]
    create, revoke = rows[0], rows[1]
    assert create["target"] == key_id and revoke["target"] == key_id
    assert create["detail"] == {"user_id": "hana", "groups": ["hr", "public"]}
    assert str(create["user_id"]).startswith("cli:")

    # the key was made for hana, but by the operator (cli:<os user>): hana's rows are her own
    assert [r["action"] for r in export("--user", "hana")] == ["search"]
    assert [r["action"] for r in export("--user", "eve")] == ["ask"]
    assert [r["doc_ids"] for r in export("--since", middle.isoformat())] == [["salary-bands"]]
    assert [r["action"] for r in export("--until", middle.isoformat())] == [
        "key_create",
        "key_revoke",
        "ask",
    ]
    tomorrow = (middle + timedelta(days=1)).date().isoformat()
    assert export("--since", tomorrow) == []
    out = tmp_path / "audit.jsonl"
    written = CliRunner().invoke(app, ["audit", "export", "--user", "eve", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert [json.loads(line)["user_id"] for line in out.read_text().splitlines()] == ["eve"]
    bad = CliRunner().invoke(app, ["audit", "export", "--since", "last tuesday"])
    assert bad.exit_code != 0


def test_purge_drops_only_rows_past_retention(
    audit: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.record(AuditAction.ASK, EVE, question="recent")
    monkeypatch.setenv("CITEWISE_AUDIT__RETENTION_DAYS", "1")
    kept = CliRunner().invoke(app, ["audit", "purge"])
    assert kept.exit_code == 0, kept.output
    assert "purged 0 audit rows" in kept.output
    assert len(audit.events()) == 1
    # A row a day and a half old is past a one-day retention.
    old = audit.record(AuditAction.ASK, EVE, question="old")
    with audit._session() as s:
        row = s.get(_AuditRow, old.event_id)
        assert row is not None
        row.at = datetime.now(UTC) - timedelta(hours=36)
    purged = CliRunner().invoke(app, ["audit", "purge"])
    assert purged.exit_code == 0, purged.output
    assert "purged 1 audit row " in purged.output
    assert [e.event_id for e in audit.events()] != [old.event_id]
    assert len(audit.events()) == 1


def test_serve_purges_expired_rows_in_the_background(audit: AuditStore, tmp_path: Path) -> None:
    old = audit.record(AuditAction.ASK, EVE, question="old")
    audit.record(AuditAction.ASK, EVE, question="new")
    with audit._session() as s:
        row = s.get(_AuditRow, old.event_id)
        assert row is not None
        row.at = datetime.now(UTC) - timedelta(days=3)
    settings = Settings.load(data_dir=tmp_path, audit={"retention_days": 2})
    with periodic_purge(settings, audit):
        deadline = time.monotonic() + 10
        while len(audit.events()) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [e.question_sha256 for e in audit.events()] != [old.question_sha256]
    assert len(audit.events()) == 1
