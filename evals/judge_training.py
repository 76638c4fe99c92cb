"""Training the cross-encoder support judge from the shipped MiniLM on labelled pairs.

What the model learns from, per training pair:

- **SummEdits** summaries are cut into sentences, because the answer path judges one answer
  sentence at a time. A sentence gets its own label when it is certain: every sentence of a
  consistent summary is supported; in an inconsistent one, sentences copied unchanged from
  the consistent seed summary are supported and, when exactly one sentence was edited, that
  one is not. When several were edited, which is wrong is unknown (edits may be harmless
  paraphrases), so the whole summary is one unsupported example instead. (Every
  multi-sentence example is thus negative: a length cue. Claims are single sentences in the
  answer path and in calibration; dropping these examples is untested, see RESULTS.md.)
- **HaluEval QA**: the question plus an answer, supported or hallucinated.

Each example's evidence is the window ``EvidenceSelector`` builds at answer time. Duplicates
(the same sentence of the same document, from many edited summaries) are kept once. The
threshold is then chosen on the validation split, at the level of whole pairs, maximising
the mean balanced accuracy over the data sets; the held-out split is never looked at here.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evals.calibration import PairOutcome, best_threshold, judge_metrics, run_judge
from evals.judge_data import SUMMEDITS, LabelledPair
from generation.cross_encoder_judge import (
    JUDGE_CONFIG_FILE,
    CrossEncoderJudge,
    EvidenceSelector,
    JudgeConfig,
    write_judge_config,
)
from generation.sentences import sentences
from retrieval.cross_encoder import RelevancePair, train_cross_encoder
from retrieval.embedder import Embedder
from retrieval.tokens import HfTokenCounter

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: called as a stage advances."""


@dataclass(frozen=True)
class TrainingOptions:
    """Knobs of ``train_judge``; the defaults are what ``citewise eval train-judge`` runs."""

    epochs: float = 2.0
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_tokens: int = 192
    claim_tokens: int = 96
    seed: int = 0


@dataclass(frozen=True)
class TrainingResult:
    """What training produced and measured (validation only)."""

    model_dir: Path
    threshold: float
    validation_balanced_accuracy: dict[str, float]
    train_pairs: int
    train_examples: int
    validation_pairs: int
    train_seconds: float
    total_seconds: float
    examples_by_label: dict[str, int] = field(default_factory=dict)


def training_units(pair: LabelledPair) -> list[tuple[str, bool]]:
    """The ``(claim, supported)`` examples a labelled pair yields (see the module doc)."""
    if pair.dataset != SUMMEDITS or not pair.reference:
        return [(pair.claim, pair.label)]
    summary = sentences(pair.claim) or [pair.claim]
    if pair.label:
        return [(s, True) for s in summary]
    seed = set(sentences(pair.reference))
    kept = [(s, True) for s in summary if s in seed]
    edited = [s for s in summary if s not in seed]
    if len(edited) == 1:
        return [*kept, (edited[0], False)]
    return [*kept, (pair.claim, False)]


def build_examples(
    pairs: Sequence[LabelledPair],
    selector: EvidenceSelector,
    *,
    chunk: int = 256,
    progress: Progress | None = None,
) -> list[RelevancePair]:
    """Training examples, deduplicated, as ``(evidence window, claim, label)``; a claim seen
    with both labels for one document is dropped (the annotators disagreed)."""
    labels: dict[tuple[str, str], set[bool]] = {}
    evidence_of: dict[tuple[str, str], str] = {}
    for pair in pairs:
        for claim, label in training_units(pair):
            key = (pair.group, claim)
            labels.setdefault(key, set()).add(label)
            evidence_of[key] = pair.evidence
    keys = [key for key, found in labels.items() if len(found) == 1]
    examples: list[RelevancePair] = []
    for start in range(0, len(keys), chunk):
        batch = keys[start : start + chunk]
        windows = selector.select([(claim, [evidence_of[(g, claim)]]) for g, claim in batch])
        for (group, claim), window in zip(batch, windows, strict=True):
            supported = next(iter(labels[(group, claim)]))
            examples.append(
                RelevancePair(window.text, selector.claim_text(claim), 1.0 if supported else 0.0)
            )
        if progress is not None:
            progress("evidence", min(start + chunk, len(keys)), len(keys))
    return examples


def train_judge(
    train: Sequence[LabelledPair],
    validation: Sequence[LabelledPair],
    output_dir: Path,
    embedder: Embedder,
    *,
    base_model: Path,
    options: TrainingOptions = TrainingOptions(),
    progress: Progress | None = None,
    show_training_progress: bool = True,
) -> TrainingResult:
    """Fine-tune the judge from ``base_model`` on ``train``, choose its threshold on
    ``validation`` and save both to ``output_dir`` (replacing a previous judge there)."""
    started = time.perf_counter()
    if not train or not validation:
        raise ValueError("training needs both train and validation pairs")
    output_dir.mkdir(parents=True, exist_ok=True)
    # Without judge.json the directory is not a usable judge: a run that dies half-way does
    # not leave the answer path with a model whose threshold belongs to another one.
    (output_dir / JUDGE_CONFIG_FILE).unlink(missing_ok=True)
    selector = EvidenceSelector(
        embedder,
        HfTokenCounter(base_model),
        max_tokens=options.max_tokens,
        claim_tokens=options.claim_tokens,
    )
    examples = build_examples(train, selector, progress=progress)
    log.info("judge training: %d examples from %d pairs", len(examples), len(train))
    training_started = time.perf_counter()
    train_cross_encoder(
        base_model,
        examples,
        output_dir,
        epochs=options.epochs,
        batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        max_tokens=options.max_tokens,
        seed=options.seed,
        progress=show_training_progress,
    )
    train_seconds = time.perf_counter() - training_started
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)

    write_judge_config(output_dir, _config(options, 0.5, {}))
    judge = CrossEncoderJudge(output_dir, embedder)
    outcomes = run_judge(judge, validation, progress=_counting(progress, "validation", validation))
    by_set = _by_dataset(outcomes)
    threshold, _ = best_threshold(list(by_set.values()))
    scores = {
        name: judge_metrics(
            [o.label for o in rows], [o.score >= threshold for o in rows]
        ).balanced_accuracy
        for name, rows in by_set.items()
    }
    positives = sum(1 for e in examples if e.label == 1.0)
    training = {
        "base_model": str(base_model),
        "train_pairs": len(train),
        "train_examples": len(examples),
        "validation_pairs": len(validation),
        "validation_balanced_accuracy": dict(scores),
        "train_seconds": round(train_seconds, 1),
        "epochs": options.epochs,
        "learning_rate": options.learning_rate,
        "batch_size": options.batch_size,
        "seed": options.seed,
    }
    write_judge_config(output_dir, _config(options, threshold, training))
    return TrainingResult(
        model_dir=output_dir,
        threshold=threshold,
        validation_balanced_accuracy=scores,
        train_pairs=len(train),
        train_examples=len(examples),
        validation_pairs=len(validation),
        train_seconds=train_seconds,
        total_seconds=time.perf_counter() - started,
        examples_by_label={"supported": positives, "unsupported": len(examples) - positives},
    )


def _config(options: TrainingOptions, threshold: float, training: dict[str, object]) -> JudgeConfig:
    return JudgeConfig.model_validate(
        {
            "threshold": threshold,
            "max_tokens": options.max_tokens,
            "claim_tokens": options.claim_tokens,
            "training": training,
        }
    )


def _by_dataset(outcomes: Sequence[PairOutcome]) -> dict[str, list[PairOutcome]]:
    found: dict[str, list[PairOutcome]] = {}
    for outcome in outcomes:
        found.setdefault(outcome.dataset, []).append(outcome)
    return found


def _counting(
    progress: Progress | None, stage: str, pairs: Sequence[LabelledPair]
) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, len(pairs))

    return advance
