"""API keys on real SQLite, and on the local PostgreSQL server when it is reachable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from core.errors import NotFoundError, RegistryError
from core.models import Principal
from store import key_store
from store.key_store import ApiKeyStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[ApiKeyStore]:
    keys = ApiKeyStore(f"sqlite:///{db_path}")
    yield keys
    keys.close()


@pytest.fixture
def any_store(database_url: str) -> Iterator[ApiKeyStore]:
    keys = ApiKeyStore(database_url)
    yield keys
    keys.close()


def test_round_trip_gives_the_principal(any_store: ApiKeyStore) -> None:
    info, token = any_store.create("alice", ["hr", "eng"], tenant="acme", name="laptop")
    assert token.startswith(f"cw_{info.key_id}_")
    assert len(info.key_id) == 12 and int(info.key_id, 16) >= 0
    assert (info.user_id, info.groups, info.tenant, info.name) == (
        "alice",
        ("hr", "eng"),
        "acme",
        "laptop",
    )
    assert info.revoked_at is None and info.last_used_at is None
    principal = any_store.authenticate(token)
    assert principal == Principal(user_id="alice", groups=("hr", "eng"), tenant="acme")
    (listed,) = any_store.list_keys()
    assert listed.key_id == info.key_id and listed.last_used_at is not None
    assert listed.created_at.tzinfo is not None
    any_store.revoke(info.key_id)
    assert any_store.authenticate(token) is None
    with pytest.raises(NotFoundError):
        any_store.revoke("0123456789ab")


def test_defaults_and_group_cleanup(store: ApiKeyStore) -> None:
    _, token = store.create(" bob ", [" a ", "", "b", "a"])
    assert store.authenticate(token) == Principal(user_id="bob", groups=("a", "b"), tenant=None)
    _, bare = store.create("carol")
    assert store.authenticate(bare) == Principal(user_id="carol")


@pytest.mark.parametrize("user", ["", "   "])
def test_empty_user_is_refused(store: ApiKeyStore, user: str) -> None:
    with pytest.raises(ValueError, match="user id"):
        store.create(user)
    assert store.list_keys() == []


def test_wrong_malformed_and_unknown_tokens(store: ApiKeyStore) -> None:
    info, token = store.create("alice", ["hr"])
    secret = token.removeprefix(f"cw_{info.key_id}_")
    wrong = f"cw_{info.key_id}_{'A' * len(secret)}"
    unknown_id = "f" * 12 if info.key_id != "f" * 12 else "e" * 12
    for bad in [
        wrong,
        f"cw_{unknown_id}_{secret}",
        "",
        "cw_",
        token[:-1] + " ",
        token + "\n",
        f"Bearer {token}",
        token.replace("cw_", "xx_", 1),
        f"cw_{info.key_id.upper()}_{secret}",
        f"cw_{info.key_id}{secret}",
        f"cw_{info.key_id}_short",
        f"cw_{info.key_id}_{secret}'; DROP TABLE api_keys; --",
    ]:
        assert store.authenticate(bad) is None, bad
    assert store.authenticate(token) is not None
    (listed,) = store.list_keys()
    assert listed.revoked_at is None


def test_revoke_is_idempotent_and_listed(store: ApiKeyStore) -> None:
    first, first_token = store.create("alice", name="one")
    second, second_token = store.create("bob", name="two")
    store.revoke(first.key_id)
    revoked_at = {k.key_id: k.revoked_at for k in store.list_keys()}
    assert revoked_at[second.key_id] is None
    stamp = revoked_at[first.key_id]
    assert stamp is not None and stamp.tzinfo is not None
    store.revoke(first.key_id)  # again: no error, the first timestamp stays
    assert {k.key_id: k.revoked_at for k in store.list_keys()}[first.key_id] == stamp
    assert store.authenticate(first_token) is None
    assert store.authenticate(second_token) == Principal(user_id="bob")
    with pytest.raises(NotFoundError):
        store.revoke("not-a-key")


def test_list_is_oldest_first(store: ApiKeyStore) -> None:
    ids = [store.create(f"user{i}")[0].key_id for i in range(3)]
    assert [k.key_id for k in store.list_keys()] == ids


def test_plaintext_secret_is_not_stored(db_path: Path) -> None:
    keys = ApiKeyStore(f"sqlite:///{db_path}")
    info, token = keys.create("alice", ["hr"])
    assert keys.authenticate(token) is not None
    keys.close()  # checkpoints the WAL into the main file
    secret = token.removeprefix(f"cw_{info.key_id}_")
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    stored = b"".join(p.read_bytes() for p in files)
    assert info.key_id.encode() in stored  # the row is really there
    assert secret.encode() not in stored and token.encode() not in stored


def test_last_used_is_written_at_most_once_a_minute(
    store: ApiKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(key_store, "_now", lambda: clock[0])
    info, token = store.create("alice")
    assert store.list_keys()[0].last_used_at is None

    def last_used() -> datetime | None:
        return store.list_keys()[0].last_used_at

    store.authenticate(token)
    assert last_used() == clock[0]
    first = clock[0]
    clock[0] = first + timedelta(seconds=30)
    store.authenticate(token)
    assert last_used() == first  # within the minute: no write
    clock[0] = first + timedelta(seconds=61)
    store.authenticate(token)
    assert last_used() == clock[0]
    store.revoke(info.key_id)
    clock[0] += timedelta(minutes=5)
    assert store.authenticate(token) is None
    assert last_used() == first + timedelta(seconds=61)  # a revoked key is not "used"


def test_shares_the_registry_database(db_path: Path) -> None:
    from ingest.registry import DocumentRegistry

    registry = DocumentRegistry(f"sqlite:///{db_path}")
    keys = ApiKeyStore(f"sqlite:///{db_path}")
    _, token = keys.create("alice")
    assert registry.list_documents() == [] and keys.authenticate(token) is not None
    registry.close()
    keys.close()
    tables = set(
        sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{db_path}")).get_table_names()
    )
    assert {"api_keys", "documents"} <= tables


def test_database_errors_become_registry_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError):
        ApiKeyStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'registry.sqlite3'}")
    keys = ApiKeyStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    _, token = keys.create("alice")
    with keys._engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE api_keys")
    with pytest.raises(RegistryError) as caught:
        keys.authenticate(token)
    assert caught.value.retryable and isinstance(
        caught.value.__cause__, sqlalchemy.exc.SQLAlchemyError
    )
    keys.close()
