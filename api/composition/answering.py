"""The composition root, answering: the LLM, the support judges and the answer service."""

from __future__ import annotations

from pathlib import Path

from api.composition.indexing import build_embedder, build_searcher
from core.errors import ConfigError
from core.settings import Settings
from core.tracing import NOOP_TRACER, Tracer
from generation.abstention import AbstentionPolicy
from generation.answer import AnswerOptions, AnswerService, GeneratorTokenCounter
from generation.cross_encoder_judge import CrossEncoderJudge, trained_judge_exists
from generation.finalize import AnswerChecker, CheckOptions
from generation.generator import Generator
from generation.grounding import LexicalEmbeddingJudge, SupportJudge
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.llm_judge import LlmJudge
from generation.model_store import ProgressCallback, resolve_model_path
from generation.prompting import PromptBuilder
from retrieval.context import AssemblyOptions, ContextAssembler
from retrieval.embedder import Embedder
from retrieval.index import VectorIndex
from retrieval.memo_embedder import MemoEmbedder
from retrieval.search import Searcher
from retrieval.selection import SimilaritySelector


def gguf_store_dir(settings: Settings) -> Path:
    """Where assembled GGUF models are cached: ``<data_dir>/models``."""
    return settings.data_dir / "models"


def build_generator(settings: Settings, progress: ProgressCallback | None = None) -> Generator:
    """The configured LLM: llama.cpp in-process (assembling a shipped model on first use), or
    an OpenAI-compatible server such as vLLM."""
    llm = settings.llm
    if llm.backend == "openai":
        from generation.openai_generator import OpenAICompatibleGenerator

        if not llm.base_url:
            raise ConfigError("llm.backend is openai but llm.base_url is not set")
        return OpenAICompatibleGenerator(
            llm.base_url,
            llm.model,
            api_key=llm.api_key.get_secret_value() if llm.api_key else None,
            timeout_s=llm.timeout_s,
            max_retries=llm.max_retries,
            context_window=llm.server_context_window,
        )
    path = resolve_model_path(llm.model, gguf_store_dir(settings), progress)
    # The system turn's KV state is kept on disk for the next process (issue 18).
    return LlamaCppGenerator(
        path,
        context_window=llm.context_window,
        threads=llm.threads,
        prefix_dir=gguf_store_dir(settings) / "prefix-states",
    )


def support_judge_path(settings: Settings) -> Path:
    """Where the trained support judge lives: ``answer.judge_path`` or
    ``<data_dir>/models/support-judge``."""
    return settings.answer.judge_path or settings.data_dir / "models" / "support-judge"


JUDGES = ("lexical", "cross-encoder", "llm")
"""The support judges ``build_judge`` knows."""


def build_judge(
    name: str,
    settings: Settings,
    embedder: Embedder,
    *,
    generator: Generator | None = None,
    path: Path | None = None,
    require_trained: bool = False,
    as_configured: bool = False,
) -> SupportJudge:
    """The support judge called ``name``: ``lexical`` (the embedding/word-overlap judge),
    ``cross-encoder`` (the judge trained by ``citewise eval train-judge``, at ``path`` or
    ``support_judge_path``; it loads lazily, and ``require_trained`` fails now, saying how to
    train one, when there is none) or ``llm`` (``generator`` with constrained JSON verdicts).

    ``as_configured`` gives the lexical judge the answer settings' threshold and subject
    check (the answer path's judge); otherwise it runs at its defaults, as evaluations
    measure it. ConfigError for an unknown name or an ``llm`` judge without a generator."""
    if name == "lexical":
        if as_configured:
            return LexicalEmbeddingJudge(
                embedder,
                support_threshold=settings.answer.support_threshold,
                check_subject=settings.answer.subject_check,
            )
        return LexicalEmbeddingJudge(embedder)
    if name == "cross-encoder":
        path = path or support_judge_path(settings)
        if require_trained and not trained_judge_exists(path):
            raise ConfigError(
                f"no trained support judge at {path}: run `citewise eval train-judge` "
                "(or set answer.judge_path)"
            )
        return CrossEncoderJudge(path, embedder)
    if name == "llm":
        if generator is None:
            raise ConfigError("the llm judge needs a generator")
        return LlmJudge(generator)
    raise ConfigError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")


def build_support_judge(settings: Settings, embedder: Embedder) -> SupportJudge:
    """The grounding check's judge: the trained cross-encoder when configured, or under
    ``auto`` when one has been trained; else the lexical/embedding judge as configured."""
    choice = settings.answer.judge
    trained = choice == "auto" and trained_judge_exists(support_judge_path(settings))
    # A missing model under "cross-encoder" fails on first use, saying how to train one.
    name = "cross-encoder" if choice == "cross-encoder" or trained else "lexical"
    return build_judge(name, settings, embedder, as_configured=True)


def build_answer_service(
    settings: Settings,
    index: VectorIndex,
    *,
    generator: Generator | None = None,
    embedder: Embedder | None = None,
    searcher: Searcher | None = None,
    tracer: Tracer = NOOP_TRACER,
) -> AnswerService:
    """The answer path over an open index; ``generator`` and ``embedder`` let a long-lived
    caller (the API, evals) share loaded models; ``searcher`` replaces the configured search
    (a benchmark that hands the model chosen passages); ``tracer`` times its stages."""
    embedder = embedder or build_embedder(settings)
    # The check embeds the same source sentences in several passes: memoise them.
    checking = MemoEmbedder(embedder)
    answer = settings.answer
    policy = AbstentionPolicy(
        min_retrieval_similarity=answer.min_retrieval_similarity,
        min_support_score=answer.min_support_score,
        closest_sources=answer.closest_sources,
    )
    checker = AnswerChecker(
        build_support_judge(settings, checking),
        policy=policy,
        options=CheckOptions(
            withhold=answer.unsupported == "withhold",
            attribute_uncited=answer.attribute_uncited,
            recite_miscited=answer.recite_miscited,
            min_relevance=answer.min_relevance,
            min_part_relevance=answer.min_part_relevance,
            quote_min_relevance=answer.quote_min_relevance,
        ),
        embedder=checking,
        tracer=tracer,
    )
    generator = generator or build_generator(settings)
    # The context budget and the prompt window are both measured in the model's own tokens.
    assembler = ContextAssembler(
        GeneratorTokenCounter(generator),
        index,
        AssemblyOptions(
            budget_tokens=settings.search.context_tokens, neighbours=settings.search.neighbours
        ),
    )
    return AnswerService(
        searcher or build_searcher(settings, index, embedder=embedder, tracer=tracer),
        generator,
        checker,
        assembler,
        PromptBuilder(generator, answer_tokens=settings.llm.max_answer_tokens),
        policy=policy,
        options=AnswerOptions(
            k=settings.search.k,
            max_answer_tokens=settings.llm.max_answer_tokens,
            temperature=settings.llm.temperature,
            condense_history=answer.condense_history,
            open_parts=answer.open_parts,
        ),
        selector=(
            SimilaritySelector(embedder, margin=answer.passage_margin)
            if answer.passage_margin is not None
            else None
        ),
        tracer=tracer,
    )
