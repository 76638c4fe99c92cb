"""An end-to-end evaluation run: answer every question (or take it from the cache), grade each
answer with every judge, and summarise.

The result is one JSON document (``RunResult``): the per-question records the HTML report
drills into, and the summary ``citewise eval compare`` gates on.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field

from core.errors import CitewiseError
from evals.answer_metrics import GroundingGrade, grade_grounding, semantic_similarity, token_f1
from evals.backends import AnswerBackend
from evals.dataset import EvalExample
from evals.generation_cache import CachedAnswer, GenerationCache, cache_key
from evals.reference_checks import Outcome, outcome
from evals.stats import percentile
from generation.answer_types import Answer
from generation.grounding import SupportJudge
from retrieval.embedder import Embedder

Progress = Callable[[EvalExample, bool], None]
"""Told after each question: the example and whether its answer came from the cache."""


class ExampleResult(BaseModel):
    """One question's record: the answer, its grades and its metrics."""

    model_config = ConfigDict(frozen=True)

    example: EvalExample
    answer: Answer | None
    error: str | None = None
    latency_s: float = 0.0
    cached: bool = False
    token_f1: float | None = None
    similarity: float | None = None
    gold_recall: float | None = None
    outcome: Outcome | None = None
    """What the reader got, checked against the reference keys (None when the example has
    none to check against: an answerable question without ``must_contain``)."""
    grades: dict[str, GroundingGrade] = Field(default_factory=dict)

    @property
    def shows_unsupported(self) -> bool | None:
        """Whether the answer shown contains a sentence the shipped check marked unsupported
        (None without an answer; False for an abstention)."""
        if self.answer is None:
            return None
        if self.answer.abstained:
            return False
        withheld = {w.sentence for w in self.answer.withheld}
        return any(v.sentence not in withheld for v in self.answer.flagged)


class RunResult(BaseModel):
    """A whole run: what ran, per-question records and the summary metrics."""

    run_id: str
    dataset: str
    config_id: str
    config: dict[str, object]
    backend: str
    judges: list[str]
    started_at: datetime
    seconds: float
    examples: list[ExampleResult]
    summary: dict[str, float | None]


@dataclass(frozen=True)
class Generated:
    """One question's answer (or the error that prevented it), and whether it came from the
    cache rather than from this run."""

    example: EvalExample
    entry: CachedAnswer | None
    error: str | None = None
    from_cache: bool = False


def run_answers(
    examples: Sequence[EvalExample],
    backend: AnswerBackend,
    cache: GenerationCache,
    *,
    config_id: str,
    progress: Progress | None = None,
) -> list[Generated]:
    """The answer to every example: cached, else generated and cached at once. A failure
    (the API down, a model error) is recorded as its message and the run goes on."""
    answers: list[Generated] = []
    for example in examples:
        key = cache_key(example, config_id)
        cached = cache.get(key)
        if cached is not None:
            answers.append(Generated(example, cached, from_cache=True))
        else:
            started = time.perf_counter()
            try:
                answer = backend.answer(example)
            except CitewiseError as e:
                answers.append(Generated(example, None, error=e.message))
            else:
                entry = CachedAnswer(
                    key=key,
                    example_id=example.id,
                    answer=answer,
                    latency_s=time.perf_counter() - started,
                )
                cache.put(entry)
                answers.append(Generated(example, entry))
        if progress:
            progress(example, cached is not None)
    return answers


def grade(
    answers: Sequence[Generated],
    judges: Mapping[str, SupportJudge],
    embedder: Embedder,
    *,
    progress: Callable[[], None] | None = None,
) -> list[ExampleResult]:
    """Metrics and every judge's grades for each answer; ``progress`` is called after each
    (an LLM judge takes seconds per answer)."""
    results = []
    for generated in answers:
        results.append(_grade_one(generated, judges, embedder))
        if progress is not None:
            progress()
    return results


def _grade_one(
    generated: Generated, judges: Mapping[str, SupportJudge], embedder: Embedder
) -> ExampleResult:
    example, entry = generated.example, generated.entry
    if entry is None:
        return ExampleResult(example=example, answer=None, error=generated.error)
    answer = entry.answer
    reference = example.reference_answer
    return ExampleResult(
        example=example,
        answer=answer,
        latency_s=entry.latency_s,
        cached=generated.from_cache,
        token_f1=token_f1(answer.text, reference) if reference else None,
        similarity=semantic_similarity(embedder, answer.text, reference) if reference else None,
        gold_recall=gold_recall(answer, example.gold_documents),
        outcome=reference_outcome(example, answer),
        grades={name: grade_grounding(answer, j, name) for name, j in judges.items()},
    )


def reference_outcome(example: EvalExample, answer: Answer) -> Outcome | None:
    """The reader's outcome against the example's reference keys (see ``reference_checks``);
    None for an answerable example that has no keys."""
    if example.answerable and not example.must_contain:
        return None
    return outcome(
        answerable=example.answerable,
        abstained=answer.abstained,
        text=answer.text,
        keys=example.must_contain,
    )


def gold_recall(answer: Answer, gold_documents: Sequence[str]) -> float | None:
    """The share of gold documents among the answer's sources (a source matches a gold key
    when its URI ends with ``/<key>``); None without gold documents."""
    if not gold_documents:
        return None
    uris = [unquote(s.source_uri) for s in answer.sources]
    found = [g for g in gold_documents if any(u.endswith("/" + g) or u == g for u in uris)]
    return len(found) / len(gold_documents)


def summarise(results: Sequence[ExampleResult], judges: Sequence[str]) -> dict[str, float | None]:
    """Run-level metrics. Correctness is over answerable questions (an abstention scores its
    text, so about 0); grounding over the answers that were not abstentions; abstention
    precision/recall treat "declined an unanswerable question" as the positive class."""
    ok = [r for r in results if r.answer is not None]
    answerable = [r for r in ok if r.example.answerable]
    answered = [r for r in ok if r.answer is not None and not r.answer.abstained]
    summary: dict[str, float | None] = {
        "questions": float(len(results)),
        "errors": float(len(results) - len(ok)),
        "answered_rate": _ratio(len(answered), len(ok)),
        "token_f1": _mean([r.token_f1 for r in answerable]),
        "similarity": _mean([r.similarity for r in answerable]),
        "gold_recall": _mean([r.gold_recall for r in answerable]),
    }
    declined = {r.example.id for r in ok if r.answer is not None and r.answer.abstained}
    unanswerable = {r.example.id for r in ok if not r.example.answerable}
    summary["abstention_precision"] = _ratio(len(declined & unanswerable), len(declined))
    summary["abstention_recall"] = _ratio(len(declined & unanswerable), len(unanswerable))
    summary.update(outcome_rates(ok))
    shown = [r.shows_unsupported for r in answered]
    summary["shows_unsupported_rate"] = _ratio(sum(bool(x) for x in shown), len(shown))
    summary["withheld_rate"] = _ratio(
        sum(bool(r.answer and r.answer.withheld) for r in ok), len(ok)
    )
    summary["quoted_rate"] = _ratio(sum(bool(r.answer and r.answer.quoted) for r in ok), len(ok))
    for name in judges:
        grades = [r.grades[name] for r in answered if name in r.grades]
        summary[f"{name}.hallucination_rate"] = _mean([float(g.hallucinated) for g in grades])
        summary[f"{name}.faithfulness"] = _mean([g.faithfulness for g in grades])
        summary[f"{name}.citation_recall"] = _mean([g.citation_recall for g in grades])
        summary[f"{name}.citation_precision"] = _mean([g.citation_precision for g in grades])
    # A cached answer keeps the latency measured when it was generated.
    latencies = [r.latency_s for r in ok]
    summary["latency_p50_s"] = percentile(latencies, 50)
    summary["latency_p95_s"] = percentile(latencies, 95)
    summary["prompt_tokens"] = _mean([float(r.answer.prompt_tokens) for r in answered if r.answer])
    summary["completion_tokens"] = _mean(
        [float(r.answer.completion_tokens) for r in answered if r.answer]
    )
    return summary


def outcome_rates(results: Sequence[ExampleResult]) -> dict[str, float | None]:
    """Reference-checked rates: ``correct``, ``wrong_shown`` and ``abstained_answerable`` over
    the answerable questions that have keys, ``abstained_unanswerable`` over the unanswerable
    ones; ``correct`` also per question ``kind`` (``metadata["kind"]``)."""
    checked = [r for r in results if r.outcome is not None]
    answerable = [r for r in checked if r.example.answerable]
    unanswerable = [r for r in checked if not r.example.answerable]

    def share(group: Sequence[ExampleResult], wanted: Outcome) -> float | None:
        return _ratio(sum(r.outcome is wanted for r in group), len(group))

    rates = {
        "correct_rate": share(answerable, Outcome.CORRECT),
        "wrong_shown_rate": share(answerable, Outcome.WRONG_SHOWN),
        "abstained_answerable_rate": share(answerable, Outcome.ABSTAINED_ANSWERABLE),
        "abstained_unanswerable_rate": share(unanswerable, Outcome.ABSTAINED_UNANSWERABLE),
    }
    for kind in sorted({r.example.metadata.get("kind", "") for r in answerable} - {""}):
        group = [r for r in answerable if r.example.metadata.get("kind") == kind]
        rates[f"correct_rate.{kind}"] = share(group, Outcome.CORRECT)
    return rates


def new_run(
    *,
    dataset: str,
    config_id: str,
    config: dict[str, object],
    backend: str,
    judges: Sequence[str],
    started_at: datetime,
    seconds: float,
    results: list[ExampleResult],
) -> RunResult:
    """A ``RunResult`` with its summary computed."""
    return RunResult(
        run_id=f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
        dataset=dataset,
        config_id=config_id,
        config=config,
        backend=backend,
        judges=list(judges),
        started_at=started_at,
        seconds=round(seconds, 3),
        examples=results,
        summary=summarise(results, judges),
    )


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
