"""Answer feedback on real SQLite, and on the local PostgreSQL server when it is reachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from core.errors import RegistryError
from store.feedback_store import MAX_COMMENT, FeedbackStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[FeedbackStore]:
    feedback = FeedbackStore(f"sqlite:///{db_path}")
    yield feedback
    feedback.close()


@pytest.fixture
def any_store(database_url: str) -> Iterator[FeedbackStore]:
    feedback = FeedbackStore(database_url)
    yield feedback
    feedback.close()


def test_round_trip_and_rating_filter(any_store: FeedbackStore) -> None:
    up = any_store.add("a1", "eve", "up")
    down = any_store.add(
        " a2 ", "hana", "down", comment="cites the old policy", question="Q?", answer_text="A [1]"
    )
    assert len(up.feedback_id) == 32 and up.feedback_id != down.feedback_id
    assert (down.answer_id, down.user_id, down.rating, down.comment) == (
        "a2",
        "hana",
        "down",
        "cites the old policy",
    )
    assert (down.question, down.answer_text) == ("Q?", "A [1]")
    assert (up.comment, up.question, up.answer_text) == (None, None, None)
    listed = any_store.list_feedback()
    assert listed == [up, down]  # oldest first, as stored
    assert all(f.created_at.tzinfo is not None for f in listed)
    assert any_store.list_feedback("down") == [down]
    assert any_store.list_feedback("up") == [up]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        (("", "eve", "up", None), "answer id"),
        (("a1", "  ", "up", None), "user id"),
        (("a1", "eve", "meh", None), "rating"),
        (("a1", "eve", "down", "x" * (MAX_COMMENT + 1)), "comment"),
    ],
)
def test_invalid_feedback_is_refused(
    store: FeedbackStore, fields: tuple[str, str, str, str | None], match: str
) -> None:
    answer_id, user, rating, comment = fields
    with pytest.raises(ValueError, match=match):
        store.add(answer_id, user, rating, comment=comment)
    assert store.list_feedback() == []


def test_a_comment_of_the_maximum_length_is_kept(store: FeedbackStore) -> None:
    stored = store.add("a1", "eve", "down", comment="é" * MAX_COMMENT)
    assert store.list_feedback()[0].comment == stored.comment == "é" * MAX_COMMENT


def test_shares_the_registry_database(db_path: Path) -> None:
    from ingest.registry import DocumentRegistry
    from store.key_store import ApiKeyStore

    registry = DocumentRegistry(f"sqlite:///{db_path}")
    keys = ApiKeyStore(f"sqlite:///{db_path}")
    feedback = FeedbackStore(f"sqlite:///{db_path}")
    feedback.add("a1", "eve", "up")
    for closable in (registry, keys, feedback):
        closable.close()
    reopened = FeedbackStore(f"sqlite:///{db_path}")
    assert [f.answer_id for f in reopened.list_feedback()] == ["a1"]
    reopened.close()
    tables = set(
        sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{db_path}")).get_table_names()
    )
    assert {"feedback", "api_keys", "documents"} <= tables


def test_database_errors_become_registry_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError):
        FeedbackStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'registry.sqlite3'}")
    feedback = FeedbackStore(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with feedback._engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
    with pytest.raises(RegistryError) as caught:
        feedback.add("a1", "eve", "up")
    assert caught.value.retryable
    feedback.close()
