"""End-to-end answer evaluation, orchestrated: ``run_answer_eval`` (``citewise eval run``) and
``run_tradeoff`` (``citewise eval tradeoff``).

A run ingests the dataset's corpus into an evaluation index of its own (unchanged files are
skipped on later runs), answers every question in this process or through a running API,
grades each answer with the chosen judges and returns the ``RunResult``. Generations are
cached by (question, principal, configuration), so judges can be re-run for free and an
interrupted run resumes where it stopped.

The system under test is built by the composition root and handed in as an ``EvalSystem``
(embedder, generator, the indexed corpus and its answer services, judges), so evaluation
imports neither ``api`` nor ``ingest``.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.settings import Settings
from evals.answer_run import RunResult, grade, new_run, run_answers, utc_now
from evals.backends import AnswerBackend, ApiBackend, ServiceBackend
from evals.dataset import EvalExample
from evals.generation_cache import GenerationCache
from evals.llm_cache import CachingGenerator
from evals.qa_datasets import QaDataset
from evals.tradeoff import SweepPoint, grid, sweep, with_overrides
from generation.answer import AnswerService
from generation.generator import Generator
from generation.grounding import SupportJudge
from retrieval.embedder import Embedder

SHAPING = {"embedding", "chunking", "parsing", "search", "llm", "answer"}
"""The settings that shape answers: they make up the configuration id."""
NOT_SHAPING = {"llm": {"threads", "timeout_s", "max_retries", "api_key"}}
"""Within them, what only changes speed or access (the same answer with 1 or 2 threads)."""

ServiceFactory = Callable[[Settings, Generator], AnswerService]
"""An answer service over the evaluation index, for these settings and this model."""
Bar = Callable[[str, int], AbstractContextManager[Callable[[], None]]]
"""Opens a progress bar (label, total); yields the function that advances it by one."""


class EvalSystem(Protocol):
    """How the composition root builds the system under test."""

    def embedder(self, settings: Settings) -> Embedder:
        """The embedding model."""
        ...

    def generator(self, settings: Settings) -> Generator:
        """The answering model."""
        ...

    def pipeline_id(self, settings: Settings) -> str:
        """The version of the ingest pipeline that builds the index under ``settings``."""
        ...

    def open_corpus(
        self, settings: Settings, embedder: Embedder, data: QaDataset
    ) -> AbstractContextManager[ServiceFactory]:
        """Open the index ``settings`` name, bring it up to date with the dataset's corpus,
        and yield the factory of answer services over it."""
        ...

    def judges(
        self,
        names: Sequence[str],
        settings: Settings,
        embedder: Embedder,
        generator: Generator | None,
    ) -> dict[str, SupportJudge]:
        """One grading judge per name (``lexical``, ``cross-encoder``, ``llm``)."""
        ...


@dataclass(frozen=True)
class ApiTarget:
    """A running Citewise API to ask instead of this process."""

    url: str
    api_key: str | None = None


@contextmanager
def no_bar(_label: str, _total: int) -> Iterator[Callable[[], None]]:
    """A progress bar that shows nothing."""
    yield lambda: None


def choose_examples(
    examples: Sequence[EvalExample], *, limit: int | None = None, sample: int | None = None
) -> tuple[EvalExample, ...]:
    """The first ``limit`` examples, then a fixed random sample of ``sample`` of them (seed 0:
    the same examples every run)."""
    chosen = tuple(examples[:limit] if limit else examples)
    if sample is not None and sample < len(chosen):
        picked = set(random.Random(0).sample(range(len(chosen)), sample))
        chosen = tuple(e for i, e in enumerate(chosen) if i in picked)
    return chosen


def eval_settings(settings: Settings, out_dir: Path, data: QaDataset, pipeline_id: str) -> Settings:
    """The system under test, with an index and registry of its own for this dataset and
    pipeline version (models stay where the settings keep them)."""
    work = out_dir / "index" / f"{data.name}-{pipeline_id}"
    work.mkdir(parents=True, exist_ok=True)
    return settings.model_copy(
        update={
            "index": settings.index.model_copy(update={"path": work / "index"}),
            "registry": settings.registry.model_copy(
                update={"url": f"sqlite:///{work / 'registry.sqlite3'}"}
            ),
        }
    )


def cached_generator(generator: Generator, settings: Settings, out_dir: Path) -> Generator:
    """The answering model behind a reply cache shared by every run in ``out_dir``: a run
    that changes only what happens after generation (the check, thresholds) replays them."""
    llm = settings.llm
    model_id = f"{llm.backend}:{llm.model}:{llm.base_url or ''}"
    return CachingGenerator(generator, out_dir / "cache" / "llm-replies.jsonl", model_id=model_id)


def run_config_id(settings: Settings, pipeline_id: str) -> str:
    """Names the configuration under test: a digest of every setting that shapes answers and
    of the pipeline version that built the index."""
    shaping = settings.model_dump_json(include=SHAPING, exclude=NOT_SHAPING)
    return digest(shaping + pipeline_id)


def digest(text: str) -> str:
    """A short, stable hex digest of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_answer_eval(
    settings: Settings,
    data: QaDataset,
    examples: Sequence[EvalExample],
    *,
    judges: Sequence[str],
    out_dir: Path,
    system: EvalSystem,
    api: ApiTarget | None = None,
    bar: Bar = no_bar,
    say: Callable[[str], None] = lambda _: None,
    fresh: bool = False,
) -> RunResult:
    """Answer ``examples`` (in this process, or through ``api``), grade the answers with
    ``judges`` and return the run. Caches (generations, model replies) and evaluation
    indexes live under ``out_dir``; ``fresh`` answers again instead of reading cached
    answers (model replies still come from the reply cache)."""
    with ExitStack() as stack:
        if api is None:
            settings = eval_settings(settings, out_dir, data, system.pipeline_id(settings))
            embedder = system.embedder(settings)
            answering = cached_generator(system.generator(settings), settings, out_dir)
            generator: Generator | None = answering
            services = stack.enter_context(system.open_corpus(settings, embedder, data))
            service = services(settings, answering)
            backend: AnswerBackend = ServiceBackend(service, tenant=settings.tenant)
            config_id = run_config_id(settings, system.pipeline_id(settings))
        else:
            embedder = system.embedder(settings)
            # The LLM judge runs here, on the configured model, whoever answered.
            generator = system.generator(settings) if "llm" in judges else None
            api_backend = ApiBackend(api.url, api.api_key)
            stack.callback(api_backend.close)
            backend, config_id = api_backend, "api-" + digest(api.url)
        graders = system.judges(judges, settings, embedder, generator)
        cache = GenerationCache(out_dir / "cache" / f"{data.name}.jsonl", fresh=fresh)
        started, began = utc_now(), time.perf_counter()
        with bar("answering", len(examples)) as advance:
            answers = run_answers(
                examples,
                backend,
                cache,
                config_id=config_id,
                progress=lambda _example, _cached: advance(),
            )
        say(f"grading {len(answers)} answers with {', '.join(judges)}")
        with bar("grading", len(answers)) as advance:
            results = grade(answers, graders, embedder, progress=advance)
    config: dict[str, Any] = json.loads(
        settings.model_dump_json(include=SHAPING, exclude=NOT_SHAPING)
    )
    return new_run(
        dataset=data.name,
        config_id=config_id,
        config=config,
        backend=api.url if api is not None else "in-process",
        judges=judges,
        started_at=started,
        seconds=time.perf_counter() - began,
        results=results,
    )


def run_tradeoff(
    settings: Settings,
    data: QaDataset,
    axes: Mapping[str, Sequence[Any]],
    *,
    examples: Sequence[EvalExample] | None = None,
    out_dir: Path,
    system: EvalSystem,
    bar: Bar = no_bar,
) -> list[SweepPoint]:
    """Answer ``examples`` (default: the whole dataset) under every combination of ``axes``
    (``section.setting`` → values) and return the reference-checked outcomes per combination;
    model replies come from the run cache, so only uncached prompts are generated."""
    points = grid(axes)
    settings = eval_settings(settings, out_dir, data, system.pipeline_id(settings))
    embedder = system.embedder(settings)
    generator = cached_generator(system.generator(settings), settings, out_dir)
    with system.open_corpus(settings, embedder, data) as services:

        def backend_for(overrides: Mapping[str, object]) -> tuple[AnswerBackend, str]:
            chosen = with_overrides(settings, overrides)
            service = services(chosen, generator)
            config_id = run_config_id(chosen, system.pipeline_id(chosen))
            return ServiceBackend(service, tenant=chosen.tenant), config_id

        # Always answered afresh: the check is what a sweep measures, and cached answers may
        # come from older code. The model's replies come from the reply cache.
        cache = GenerationCache(out_dir / "cache" / f"{data.name}.jsonl", fresh=True)
        with bar("settings", len(points)) as advance:
            chosen = data.examples if examples is None else examples
            return sweep(chosen, points, backend_for, cache, embedder, progress=advance)
