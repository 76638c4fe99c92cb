"""Settings: one pydantic-settings tree.

Sources, highest priority first: explicit init arguments, environment variables
(``CITEWISE_`` prefix, nested with ``__``, e.g. ``CITEWISE_EMBEDDING__BATCH_SIZE=32``), then an
optional YAML file (``CITEWISE_CONFIG`` or ``Settings.load(path)``). Unknown keys are errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError
from core.settings_monitoring import AuditSettings, TelemetrySettings
from core.settings_pipeline import (
    AnswerSettings,
    ChunkingSettings,
    EmbeddingSettings,
    IndexSettings,
    LlmSettings,
    SearchSettings,
)
from core.settings_service import (
    OIDC_ALGORITHMS,
    AclSettings,
    ApiSettings,
    IngestSettings,
    OidcSettings,
    ParsingSettings,
    RegistrySettings,
    WebSettings,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "OIDC_ALGORITHMS",
    "AclSettings",
    "AnswerSettings",
    "ApiSettings",
    "AuditSettings",
    "ChunkingSettings",
    "EmbeddingSettings",
    "IndexSettings",
    "IngestSettings",
    "LlmSettings",
    "OidcSettings",
    "ParsingSettings",
    "RegistrySettings",
    "SearchSettings",
    "Settings",
    "TelemetrySettings",
    "WebSettings",
]

CONFIG_ENV_VAR = "CITEWISE_CONFIG"


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
    telemetry: TelemetrySettings = TelemetrySettings()
    audit: AuditSettings = AuditSettings()
    web: WebSettings = WebSettings()

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
