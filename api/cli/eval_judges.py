"""The judges an evaluation run grades answers with, built from their names."""

from __future__ import annotations

from collections.abc import Sequence

from api.composition import support_judge_path
from core.errors import ConfigError
from core.settings import Settings
from generation.cross_encoder_judge import CrossEncoderJudge, trained_judge_exists
from generation.generator import Generator
from generation.grounding import LexicalEmbeddingJudge, SupportJudge
from generation.llm_judge import LlmJudge
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
        elif name == "cross-encoder":
            path = support_judge_path(settings)
            if not trained_judge_exists(path):
                raise ConfigError(
                    f"no trained support judge at {path}: run `citewise eval train-judge` "
                    "(or set answer.judge_path)"
                )
            judges[name] = CrossEncoderJudge(path, MemoEmbedder(embedder))
        elif name == "llm":
            if generator is None:
                raise ConfigError("the llm judge needs a generator")
            judges[name] = LlmJudge(generator)
        else:
            raise ConfigError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")
    return judges
