"""Real parts for integration tests: the shipped MiniLM, qdrant-edge, SQLite, unstructured."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from api import composition
from core.models import IngestSummary
from core.settings import Settings
from ingest.acl_policy import AclPolicy
from retrieval.embedder import Embedder, Vector
from tests.conftest import SAMPLE_ACL, SAMPLE_CORPUS


class CountingEmbedder:
    """The real embedder, counting the passages it embeds (to prove 'no re-embedding')."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.embedded = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vector:
        return self.inner.embed_query(text)

    def warm_up(self) -> None:
        self.inner.warm_up()


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # Parse inline: worker processes are covered by the CLI tests; here they only add start-up.
    return Settings.load(data_dir=data_dir, ingest={"workers": 0})


Ingest = Callable[..., IngestSummary]


@pytest.fixture
def counting(real_embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(real_embedder)


@pytest.fixture
def ingest(settings: Settings, counting: CountingEmbedder) -> Ingest:
    """Run one ingest over ``paths`` with the real stack; the store is closed afterwards."""

    def run(*paths: Path, policy: AclPolicy | None = None, prune: bool = False) -> IngestSummary:
        with composition.open_store(settings, embedder=counting) as store:
            pipeline = composition.build_pipeline(settings, store)
            return pipeline.run(
                list(paths),
                policy=policy or AclPolicy.default_only(("public",)),
                prune=prune,
            )

    return run


@pytest.fixture
def store(settings: Settings, counting: CountingEmbedder) -> Callable[[], object]:
    @contextmanager
    def open_() -> Iterator[composition.Store]:
        with composition.open_store(settings, embedder=counting) as s:
            yield s

    return open_


@pytest.fixture(scope="module")
def sample_api_settings(tmp_path_factory: pytest.TempPathFactory, small_gguf: Path) -> Settings:
    """Settings over a fresh copy of the sample corpus, ingested once per test module with
    its ACL (``hr/**`` is HR-only), answering with the 0.5B model: what API tests serve.
    Readers see paths relative to the corpus (``api.display_roots``)."""
    root = tmp_path_factory.mktemp("api-sample")
    shutil.copytree(SAMPLE_CORPUS, root / "corpus")
    settings = Settings.load(
        data_dir=root / "data",
        ingest={"workers": 0},
        llm={"model": str(small_gguf)},
        api={"display_roots": [str(root / "corpus")]},
    )
    with composition.open_store(settings) as store:
        summary = composition.build_pipeline(settings, store).run(
            [root / "corpus"], policy=AclPolicy.from_file(SAMPLE_ACL)
        )
    assert summary.failed == 0
    return settings
