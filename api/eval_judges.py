"""The judges an evaluation run grades answers with, built from their names."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import ConfigError
from core.settings import Settings
from generation.generator import Generator
from generation.grounding import LexicalEmbeddingJudge, SupportJudge
from retrieval.embedder import Embedder
from retrieval.memo_embedder import MemoEmbedder

JUDGES = ("lexical", "cross-encoder", "llm")


def build_judges(
    names: Sequence[str],
    settings: Settings,
    embedder: Embedder,
    generator: Generator | None,
) -> dict[str, SupportJudge]:
    """One judge per name: ``lexical`` (the embedding/word-overlap baseline), ``cross-encoder``
    (the judge trained by ``citewise eval train-judge``), ``llm`` (the configured LLM with
    constrained JSON verdicts)."""
    judges: dict[str, SupportJudge] = {}
    for name in names:
        if name == "lexical":
            judges[name] = LexicalEmbeddingJudge(MemoEmbedder(embedder))
        elif name in JUDGES:
            raise ConfigError(f"judge {name!r} is not available yet")
        else:
            raise ConfigError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")
    return judges
