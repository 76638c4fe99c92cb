"""Schema migrations on real SQLite, and on the local PostgreSQL server when it is reachable."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import alembic.op
import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.errors import RegistryError
from ingest import job_store, registry
from ingest.registry import DocumentRegistry
from store import audit_store, feedback_store, key_store, review_store
from store.schema import head_revision, schema_status, upgrade_schema
from store.sql_store import SqlStore
from tests.conftest import REPO

LEGACY_METADATA: list[sqlalchemy.MetaData] = [
    registry._Base.metadata,
    key_store._Base.metadata,
    feedback_store._Base.metadata,
]
"""The stores that made their own tables (``create_all``) before migrations existed."""

STORE_METADATA: list[sqlalchemy.MetaData] = [
    *LEGACY_METADATA,
    job_store.JOB_METADATA,
    review_store._Base.metadata,
    audit_store._Base.metadata,
]
"""Every store's tables: the migrated schema must match them all (add new stores here)."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[sqlalchemy.Engine]:
    eng = sqlalchemy.create_engine(url)
    yield eng
    eng.dispose()


def differences(engine: sqlalchemy.Engine) -> list[Any]:
    combined = sqlalchemy.MetaData()
    for metadata in STORE_METADATA:
        for table in metadata.tables.values():
            table.to_metadata(combined)
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), combined))


def table_names(engine: sqlalchemy.Engine) -> set[str]:
    return set(sqlalchemy.inspect(engine).get_table_names())


def test_an_empty_database_reaches_head(engine: sqlalchemy.Engine) -> None:
    assert schema_status(engine).current is None
    assert upgrade_schema(engine) is None
    status = schema_status(engine)
    assert status.current == head_revision() and status.up_to_date


def test_upgrading_again_only_reads(engine: sqlalchemy.Engine) -> None:
    upgrade_schema(engine)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", record)
    assert upgrade_schema(engine) == head_revision()
    assert statements and all(
        s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements
    ), statements


def test_the_migrated_schema_matches_every_store(engine: sqlalchemy.Engine) -> None:
    upgrade_schema(engine)
    assert differences(engine) == []


def test_the_stores_open_and_work_on_the_migrated_database(url: str) -> None:
    reg = DocumentRegistry(url)
    keys = key_store.ApiKeyStore(url)
    feedback = feedback_store.FeedbackStore(url)
    try:
        reg.begin_version("d1", "file:///a.md", file_type="md")
        keys.create("alice")
        feedback.add("a1", "alice", "up")
        assert reg.document_ids() == {"d1"} and len(keys.list_keys()) == 1
    finally:
        for store in (reg, keys, feedback):
            store.close()


@pytest.mark.parametrize("old_stores", [1, len(LEGACY_METADATA)], ids=["registry-only", "all"])
def test_a_database_made_before_migrations_is_adopted(
    engine: sqlalchemy.Engine, url: str, old_stores: int
) -> None:
    # What the old code did: each store created its own tables, and only those.
    for metadata in LEGACY_METADATA[:old_stores]:
        metadata.create_all(engine)
    documents = registry._Base.metadata.tables["documents"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            documents.insert().values(
                doc_id="d1",
                source_uri="file:///a.md",
                title="A",
                content_hash="h",
                version=1,
                pipeline="p",
                status="indexed",
                acl_users=[],
                acl_groups=["public"],
                chunk_count=2,
                created_at=now,
                updated_at=now,
            )
        )
    assert schema_status(engine).current is None

    assert upgrade_schema(engine) is None
    assert schema_status(engine).up_to_date
    assert differences(engine) == []
    reg = DocumentRegistry(url)
    try:
        doc = reg.get("d1")
        assert (doc.title, doc.version, doc.chunk_count) == ("A", 1, 2)
    finally:
        reg.close()


def test_a_failed_upgrade_leaves_nothing_behind(
    engine: sqlalchemy.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise sqlalchemy.exc.OperationalError("CREATE INDEX", {}, Exception("disk full"))

    # after two tables are created: the whole upgrade is one transaction, on SQLite too
    monkeypatch.setattr(alembic.op, "create_index", fail)
    with pytest.raises(RegistryError, match="citewise db upgrade"):
        upgrade_schema(engine)
    assert table_names(engine) == set()
    assert schema_status(engine).current is None


# A process that opens its engine, says "ready", waits for the go file, then upgrades.
RACER = """
import pathlib, sys, time
import sqlalchemy
from store.schema import upgrade_schema
engine = sqlalchemy.create_engine(sys.argv[1])
with engine.connect():
    pass
print("ready", flush=True)
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.002)
print(upgrade_schema(engine), flush=True)
"""


def test_processes_upgrading_at_once_all_succeed(url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
        go.touch()
        outputs = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
    assert [racer.returncode for racer in racers] == [0] * 4, [err for _, err in outputs]
    # exactly one did the work; the others waited for its lock (or came later) and found
    # the schema at head
    results = sorted(out.strip() for out, _ in outputs)
    assert results == [head_revision()] * 3 + ["None"]


def test_threads_upgrading_different_databases_at_once_all_succeed(tmp_path: Path) -> None:
    # Alembic's proxies are process-wide: migrations in two threads must not interleave.
    engines = [sqlalchemy.create_engine(f"sqlite:///{tmp_path / f'{i}.sqlite3'}") for i in range(4)]
    start = threading.Barrier(len(engines))

    def upgrade(engine: sqlalchemy.Engine) -> str | None:
        start.wait()
        return upgrade_schema(engine)

    with ThreadPoolExecutor(len(engines)) as pool:
        assert list(pool.map(upgrade, engines, timeout=60)) == [None] * len(engines)
    for engine in engines:
        assert schema_status(engine).up_to_date and differences(engine) == []
        engine.dispose()


def test_an_unknown_newer_revision_is_refused(engine: sqlalchemy.Engine) -> None:
    upgrade_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(RegistryError, match=r"revision 9999.*newer Citewise"):
        upgrade_schema(engine)


def test_an_unreachable_database_names_the_url_without_its_password() -> None:
    engine = sqlalchemy.create_engine("postgresql+psycopg://citewise:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(RegistryError) as caught:
        upgrade_schema(engine)
    message = caught.value.message
    assert "citewise:***@127.0.0.1:1/nowhere" in message and "s3cret" not in message
    assert "registry URL" in message


def test_a_store_whose_tables_no_migration_creates_fails_clearly(url: str) -> None:
    metadata = sqlalchemy.MetaData()
    sqlalchemy.Table("not_migrated", metadata, sqlalchemy.Column("id", sqlalchemy.Integer))
    with pytest.raises(RegistryError, match="not_migrated are missing"):
        SqlStore(url, metadata, "test store")
