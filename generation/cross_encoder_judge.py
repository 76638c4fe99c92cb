"""A support judge trained here: a MiniLM cross-encoder reading (evidence, claim) jointly.

No NLI or hallucination-judge weights ship offline, so ``citewise eval train-judge`` fine-tunes
one from the shipped all-MiniLM-L6-v2 (``evals/judge_training.py``) and saves it with a
``judge.json`` holding its decision threshold, chosen on a validation split.

The model reads at most ``max_tokens`` (256 by default) while cited text can be longer (a
merged source, several sources, a whole document in the evals). ``EvidenceSelector`` builds
the window: the cited text is cut into sentences, and the sentences most similar to the claim
by the shipped embedder fill the window, kept in their original order. Training builds its
inputs with the same selector, so the model is trained on what it sees at answer time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from core.errors import ModelLoadError
from generation.grounding import Claim, Support
from generation.sentences import sentences
from retrieval.embedder import Embedder
from retrieval.tokens import HfTokenCounter, TokenCounter

if TYPE_CHECKING:
    from sentence_transformers.cross_encoder import CrossEncoder

JUDGE_CONFIG_FILE = "judge.json"
_SPECIAL_TOKENS = 3  # [CLS] evidence [SEP] claim [SEP]


class JudgeConfig(BaseModel):
    """What is stored beside a trained judge: its threshold and input shape (and, for
    people, how it was trained)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(ge=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=32, le=512)
    claim_tokens: int = Field(default=96, ge=8)
    training: dict[str, JsonValue] = Field(default_factory=dict)


def trained_judge_exists(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a trained judge (model weights config plus ``judge.json``)."""
    return (model_dir / "config.json").is_file() and (model_dir / JUDGE_CONFIG_FILE).is_file()


def read_judge_config(model_dir: Path) -> JudgeConfig:
    """The ``judge.json`` of a trained judge."""
    path = model_dir / JUDGE_CONFIG_FILE
    try:
        return JudgeConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as e:
        raise ModelLoadError(
            f"no usable support judge at {model_dir} ({e.__class__.__name__}); "
            "train one first (citewise eval train-judge)"
        ) from e


def write_judge_config(model_dir: Path, config: JudgeConfig) -> None:
    """Store ``config`` beside the model."""
    text = json.dumps(config.model_dump(mode="json"), indent=2) + "\n"
    (model_dir / JUDGE_CONFIG_FILE).write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Evidence:
    """The window of cited text given to the cross-encoder, and its best-matching sentence."""

    text: str
    best: str


class EvidenceSelector:
    """Fits each claim's cited text into a cross-encoder window of ``max_tokens``.

    Sentences longer than ``max_unit_tokens`` are cut into word windows first, so one run-on
    transcript line cannot fill the window alone. When everything fits, all of it is kept.
    """

    def __init__(
        self,
        embedder: Embedder,
        tokens: TokenCounter,
        *,
        max_tokens: int = 256,
        claim_tokens: int = 96,
        max_unit_tokens: int = 64,
    ) -> None:
        self._embedder = embedder
        self._tokens = tokens
        self._max_tokens = max_tokens
        self._claim_tokens = claim_tokens
        self._max_unit_tokens = max_unit_tokens

    def select(self, claims: Sequence[tuple[str, Sequence[str]]]) -> list[Evidence]:
        """For each ``(claim, cited texts)``, the evidence window (one embedding batch)."""
        units = [self._units(texts) for _, texts in claims]
        every = list(dict.fromkeys(u for group in units for u in group))
        claim_texts = [self.claim_text(claim) for claim, _ in claims]
        vectors = self._embedder.embed_documents([*claim_texts, *every]) if every else []
        claim_vectors = np.asarray(vectors[: len(claims)], dtype=np.float32)
        unit_vectors = np.asarray(vectors[len(claims) :], dtype=np.float32)
        row_of = {u: i for i, u in enumerate(every)}
        counts = {u: self._tokens.count(u) for u in every}
        chosen: list[Evidence] = []
        for n, (claim, group) in enumerate(zip(claim_texts, units, strict=True)):
            if not group:
                chosen.append(Evidence(text="", best=""))
                continue
            rows = unit_vectors[[row_of[u] for u in group]]
            similarity = rows @ claim_vectors[n]
            budget = self._max_tokens - _SPECIAL_TOKENS - self._tokens.count(claim)
            chosen.append(self._fit(group, similarity, [counts[u] for u in group], budget))
        return chosen

    def claim_text(self, claim: str) -> str:
        """The claim as the model reads it: cut to ``claim_tokens`` words at most."""
        words = claim.split()
        # Words, not tokens, keep this cheap; a 96-word claim is far beyond an answer sentence.
        return " ".join(words[: self._claim_tokens]) if len(words) > self._claim_tokens else claim

    def _units(self, texts: Sequence[str]) -> list[str]:
        units: list[str] = []
        for text in texts:
            for sentence in sentences(text):
                units.extend(self._windows(sentence))
        return list(dict.fromkeys(units))

    def _windows(self, sentence: str) -> list[str]:
        if self._tokens.count(sentence) <= self._max_unit_tokens:
            return [sentence]
        words = sentence.split()
        # About 1.3 tokens per English word: windows of this many words stay under the cap.
        step = max(8, int(self._max_unit_tokens / 1.3))
        return [" ".join(words[i : i + step]) for i in range(0, len(words), step)]

    @staticmethod
    def _fit(
        units: Sequence[str], similarity: np.ndarray, counts: Sequence[int], budget: int
    ) -> Evidence:
        ranked = [int(i) for i in np.argsort(-similarity, kind="stable")]
        best = units[ranked[0]]
        if sum(counts) <= budget:
            return Evidence(text=" ".join(units), best=best)
        keep: list[int] = []
        used = 0
        for i in ranked:
            if used + counts[i] <= budget:
                keep.append(i)
                used += counts[i]
        if not keep:  # not even the best sentence fits: the model's truncation cuts it
            keep = [ranked[0]]
        # Document order, so sentences that belong together read together.
        return Evidence(text=" ".join(units[i] for i in sorted(keep)), best=best)


class CrossEncoderJudge:
    """Scores each claim against the evidence window of its cited sources; supported when the
    model's probability reaches the threshold stored with the model (or ``threshold``)."""

    def __init__(
        self,
        model_dir: Path,
        embedder: Embedder,
        *,
        threshold: float | None = None,
        batch_size: int = 32,
    ) -> None:
        self._model_dir = model_dir
        self._embedder = embedder
        self._threshold = threshold
        self._batch_size = batch_size
        self._loaded: tuple[CrossEncoder, EvidenceSelector, float] | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now rather than on the first claim."""
        self._load()

    def judge(self, claims: Sequence[Claim]) -> list[Support]:
        """One model batch for the whole answer's claims."""
        _, _, threshold = self._load()
        scored = self.score([(c.text, [s.text for s in c.sources]) for c in claims])
        results: list[Support] = []
        for claim, (score, evidence) in zip(claims, scored, strict=True):
            if not claim.sources:
                results.append(Support(supported=False, score=0.0, reason="cites no source"))
                continue
            supported = score >= threshold
            verdict = "supported" if supported else "not supported"
            results.append(
                Support(
                    supported=supported,
                    score=score,
                    reason=f"{verdict}: judge {score:.2f} (threshold {threshold:.2f})",
                    evidence=evidence,
                )
            )
        return results

    def score(self, claims: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[float, str]]:
        """``(probability supported, best evidence sentence)`` per ``(claim, cited texts)``;
        evals use it to choose and measure thresholds."""
        if not claims:
            return []
        model, selector, _ = self._load()
        windows = selector.select(claims)
        inputs = [
            (window.text, selector.claim_text(claim))
            for (claim, _), window in zip(claims, windows, strict=True)
        ]
        probabilities = model.predict(
            inputs, batch_size=self._batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return [
            (min(max(float(p), 0.0), 1.0) if window.text else 0.0, window.best)
            for p, window in zip(probabilities, windows, strict=True)
        ]

    def _load(self) -> tuple[CrossEncoder, EvidenceSelector, float]:
        with self._lock:
            if self._loaded is None:
                from sentence_transformers.cross_encoder import CrossEncoder

                config = read_judge_config(self._model_dir)
                try:
                    model = CrossEncoder(
                        str(self._model_dir), max_length=config.max_tokens, device="cpu"
                    )
                except (OSError, ValueError) as e:
                    raise ModelLoadError(f"cannot load the judge at {self._model_dir}: {e}") from e
                selector = EvidenceSelector(
                    self._embedder,
                    HfTokenCounter(self._model_dir),
                    max_tokens=config.max_tokens,
                    claim_tokens=config.claim_tokens,
                )
                threshold = config.threshold if self._threshold is None else self._threshold
                self._loaded = (model, selector, threshold)
            return self._loaded
