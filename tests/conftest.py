"""Shared fixtures: paths, settings in a temporary data directory, service availability."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from retrieval.embedder import Embedder

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO / "samples" / "corpus"
SAMPLE_ACL = REPO / "samples" / "acl.yaml"
SHARED_DATA = Path(os.environ.get("CITEWISE_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last. Playwright's sync API keeps an asyncio loop running in the main
    thread for the whole session once a browser test starts, and a later test that runs its
    own loop there (``anyio.run``) would then fail with "another loop is running"."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def services_required() -> bool:
    """CI sets CITEWISE_REQUIRE_SERVICES=1: a missing service then fails instead of skipping."""
    return os.environ.get("CITEWISE_REQUIRE_SERVICES") == "1"


def missing_service(reason: str) -> None:
    """Skip locally, fail in CI."""
    if services_required():
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private, editable copy of the sample corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    yield path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set CITEWISE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The configured real embedder (the shipped MiniLM), loaded once per session."""
    from api import composition
    from core.settings import Settings

    embedder = composition.build_embedder(Settings.load())
    embedder.warm_up()
    return embedder


MODEL_CACHE = Path(
    os.environ.get("CITEWISE_TEST_MODEL_CACHE", Path.home() / ".cache" / "citewise" / "test-models")
)


@pytest.fixture(scope="session")
def small_gguf() -> Path:
    """The smallest answer-capable shipped model (Qwen2.5-0.5B), assembled and verified once
    into a cache shared across sessions (CITEWISE_TEST_MODEL_CACHE)."""
    from generation.model_catalog import QWEN_05B
    from generation.model_store import ensure_model

    return ensure_model(QWEN_05B, MODEL_CACHE)


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server (dropped afterwards); its URL."""
    import uuid

    import sqlalchemy

    name = f"citewise_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as e:
        admin.dispose()
        missing_service(f"PostgreSQL at 127.0.0.1:5432: {e}")
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for a store test: SQLite in the test's folder, then a database
    on the local PostgreSQL server (the same test runs on both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    else:
        with postgres_database() as url:
            yield url
