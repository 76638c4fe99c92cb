"""A corpus as the ingest parser reads it: the file types it ingests and the text it extracts
(for checking a question set's quotes against the corpus, ``evals.question_sets``)."""

from __future__ import annotations

from pathlib import Path

from ingest.formats import SUPPORTED_EXTENSIONS
from ingest.unstructured_adapter.partitioning import partition_file


class ParsedCorpusText:
    """The ingest parser's view of a corpus (an ``evals.question_sets.CorpusReader``)."""

    @property
    def extensions(self) -> frozenset[str]:
        """The suffixes of the files ingestion accepts, lower case."""
        return SUPPORTED_EXTENSIONS

    def extract(self, path: Path) -> str:
        """The text partitioned from ``path``, elements joined by newlines (CitewiseError when
        it cannot be read)."""
        return "\n".join(str(element) for element in partition_file(path))
