"""A cross-encoder reranker trained here from the shipped MiniLM (sentence-transformers).

No pretrained reranker ships offline, so ``train_cross_encoder`` fine-tunes one from the
bi-encoder's weights on (query, passage, relevant?) pairs, and ``CrossEncoderReranker`` loads
the result to rescore the first stage's top candidates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelLoadError
from retrieval.query import ScoredChunk

if TYPE_CHECKING:
    from sentence_transformers.cross_encoder import CrossEncoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelevancePair:
    """A training example: does ``passage`` answer ``query``? (label 1.0 or 0.0)."""

    query: str
    passage: str
    label: float


class CrossEncoderReranker:
    """Scores each (query, passage) pair jointly and reorders the candidates by that score."""

    def __init__(self, model_dir: Path, *, max_tokens: int = 256, batch_size: int = 32) -> None:
        self._model_dir = model_dir
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now."""
        self._get()

    def _get(self) -> CrossEncoder:
        with self._lock:
            if self._model is None:
                from sentence_transformers.cross_encoder import CrossEncoder

                if not (self._model_dir / "config.json").is_file():
                    raise ModelLoadError(
                        f"no reranker model at {self._model_dir}; train one first "
                        "(python bench/reranker.py) or turn reranking off"
                    )
                self._model = CrossEncoder(
                    str(self._model_dir), max_length=self._max_tokens, device="cpu"
                )
            return self._model

    def rerank(self, query: str, hits: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """The candidates ordered by the cross-encoder's relevance logit, best first."""
        if not hits:
            return []
        pairs = [(query, hit.chunk.embedding_text()) for hit in hits]
        scores = self._get().predict(
            pairs, batch_size=self._batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        rescored = [
            hit.model_copy(update={"score": float(score)})
            for hit, score in zip(hits, scores, strict=True)
        ]
        return sorted(rescored, key=lambda hit: hit.score, reverse=True)


def train_cross_encoder(
    base_model: Path,
    pairs: Sequence[RelevancePair],
    output_dir: Path,
    *,
    epochs: float = 1.0,
    batch_size: int = 16,
    learning_rate: float = 3e-5,
    max_tokens: int = 256,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Fine-tune a cross-encoder from ``base_model`` (a BERT-style checkpoint) on ``pairs``
    with binary cross-entropy, on the CPU, and save it to ``output_dir``."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    if not pairs:
        raise ValueError("no training pairs")
    model = CrossEncoder(str(base_model), num_labels=1, max_length=max_tokens, device="cpu")
    data = Dataset.from_dict(
        {
            "query": [p.query for p in pairs],
            "passage": [p.passage for p in pairs],
            "label": [float(p.label) for p in pairs],
        }
    )
    args = CrossEncoderTrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=0.1,  # a float is a share of the steps (warmup_ratio is deprecated)
        seed=seed,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        logging_steps=50,
        disable_tqdm=not progress,
        dataloader_drop_last=False,
    )
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model)
    )
    trainer.train()
    model.save_pretrained(str(output_dir))
    log.info("reranker saved to %s (%d pairs, %.1f epochs)", output_dir, len(pairs), epochs)
    return output_dir
