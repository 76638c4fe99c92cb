"""``citewise eval retrieval``'s orchestration: load a dataset (SciFact), slice it for quick
runs, index it in a scratch data directory of its own and evaluate every search mode
(``evals.retrieval_eval.evaluate_retrieval``).

The index is opened by the composition root and handed in (``OpenIndex``: the ingest step and
a searcher over one open store), so evaluation imports neither ``api`` nor ``ingest``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from core.settings import Settings
from evals.retrieval_eval import (
    MODES,
    TOP_K,
    CorpusIngest,
    Progress,
    RetrievalReport,
    evaluate_retrieval,
    scratch_settings,
)
from evals.scifact import load_scifact, slice_scifact
from retrieval.search import Searcher

DATASETS = ("scifact",)
"""The datasets ``evaluate_dataset`` knows."""

OpenIndex = Callable[[Settings], AbstractContextManager[tuple[CorpusIngest, Searcher]]]
"""Opens the index ``settings`` name: its ingest step and a searcher over it."""


def evaluate_dataset(
    settings: Settings,
    dataset: str,
    *,
    open_index: OpenIndex,
    modes: Sequence[str] = MODES,
    limit: int | None = None,
    limit_docs: int | None = None,
    k: int = TOP_K,
    data_dir: Path | None = None,
    progress: Progress | None = None,
) -> RetrievalReport:
    """Retrieval quality of ``dataset`` per search mode. ``limit`` keeps the first questions,
    ``limit_docs`` indexes only their gold documents plus others up to that many. The index
    lives in ``data_dir`` (default ``<data_dir>/evals/<dataset>``, the report's
    ``index["data_dir"]``)."""
    data = load_scifact()
    if limit is not None or limit_docs is not None:
        data = slice_scifact(data, queries=limit, documents=limit_docs)
    # A sliced corpus gets its own directory: indexing it where the full corpus lives
    # would prune the full index (and cost a full re-index next time).
    name = dataset if limit_docs is None else f"{dataset}-docs{len(data.corpus)}"
    scratch = scratch_settings(settings, data_dir or settings.data_dir / "evals" / name)
    with open_index(scratch) as (ingest, searcher):
        return evaluate_retrieval(
            dataset=dataset,
            corpus=list(data.corpus.values()),
            examples=data.examples,
            settings=scratch,
            ingest=ingest,
            searcher=searcher,
            modes=modes,
            k=k,
            progress=progress,
        )
