"""The system under test of ``citewise eval run`` and ``tradeoff``, built by the composition
root (``evals.answer_eval.EvalSystem``): models, the indexed corpus, answer services, judges."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from api import composition
from api.cli.support import err, progress_bar
from core.settings import Settings
from evals.answer_eval import ServiceFactory
from evals.answer_eval import run_config_id as _run_config_id
from evals.qa_datasets import QaDataset
from generation.answer import AnswerService
from generation.generator import Generator
from generation.grounding import SupportJudge
from ingest.acl_policy import AclPolicy
from retrieval.embedder import Embedder
from retrieval.memo_embedder import MemoEmbedder


class CompositionEvalSystem:
    """Builds what an evaluation answers and grades with, through the composition root; the
    corpus is ingested with a progress bar and a one-line summary on stderr."""

    def embedder(self, settings: Settings) -> Embedder:
        """The configured embedding model."""
        return composition.build_embedder(settings)

    def generator(self, settings: Settings) -> Generator:
        """The configured answering model."""
        return composition.build_generator(settings)

    def pipeline_id(self, settings: Settings) -> str:
        """The ingest pipeline's version under ``settings``."""
        return composition.pipeline_id(settings)

    @contextmanager
    def open_corpus(
        self, settings: Settings, embedder: Embedder, data: QaDataset
    ) -> Iterator[ServiceFactory]:
        """Open the evaluation index, ingest the dataset's corpus into it (unchanged files are
        skipped) and yield answer services over it."""
        with composition.open_store(settings, embedder=embedder) as store:
            _ingest(settings, store, data)

            def services(chosen: Settings, generator: Generator) -> AnswerService:
                return composition.build_answer_service(
                    chosen, store.index, generator=generator, embedder=embedder
                )

            yield services

    def judges(
        self,
        names: Sequence[str],
        settings: Settings,
        embedder: Embedder,
        generator: Generator | None,
    ) -> dict[str, SupportJudge]:
        """One grading judge per name (``composition.build_judge``; a cross-encoder must have
        been trained)."""
        return {
            name: composition.build_judge(
                name, settings, MemoEmbedder(embedder), generator=generator, require_trained=True
            )
            for name in names
        }


def run_config_id(settings: Settings) -> str:
    """The configuration id of an in-process run under ``settings``."""
    return _run_config_id(settings, composition.pipeline_id(settings))


def _ingest(settings: Settings, store: composition.Store, data: QaDataset) -> None:
    policy = (
        AclPolicy.from_file(data.acl_policy)
        if data.acl_policy
        else AclPolicy.default_only(("public",))
    )
    with progress_bar() as progress:
        task = progress.add_task(f"ingesting {data.corpus.name}", total=None)
        summary = composition.build_pipeline(settings, store).run(
            [data.corpus],
            policy=policy,
            on_total=lambda n: progress.update(task, total=n),
            on_result=lambda _: progress.advance(task),
        )
    err.print(
        f"corpus: {summary.added + summary.updated} indexed, {summary.unchanged} unchanged, "
        f"{summary.failed} failed ({summary.seconds:.0f} s)"
    )


@contextmanager
def bar(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar; yields the function that advances it by one."""
    with progress_bar() as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)
