"""Settings sections of production monitoring: traces (``telemetry``) and the audit log
(``audit``).

Part of :mod:`core.settings`, which assembles them into ``Settings`` and re-exports them.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from core.settings_pipeline import _Section


class TelemetrySettings(_Section):
    """OpenTelemetry traces of questions and ingestion jobs (docs/monitoring.md).

    Off until ``otlp_endpoint`` is set: no tracer provider is installed and every span is a
    no-op.
    """

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (e.g. `http://collector:4318/v1/traces`); null "
        "turns tracing off.",
    )
    service_name: str = Field(
        default="citewise", min_length=1, description="The `service.name` resource attribute."
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of traces kept (parent-based: a caller's sampled trace is kept).",
    )
    record_question_text: bool = Field(
        default=False,
        description="Put the question's text into the `answer` span (`question.text`); off, "
        "spans carry its length only. Document text never goes into spans.",
    )

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _http_url(cls, value: object) -> object:
        if value == "":  # an unset variable in docker-compose.yml: tracing off
            return None
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise ValueError("telemetry.otlp_endpoint must be an http(s) URL")
        return value


class AuditSettings(_Section):
    """The audit log: who asked what, who was shown which document, and admin actions."""

    enabled: bool = Field(default=True, description="Record questions, searches and admin actions.")
    store_questions: bool = Field(
        default=False,
        description="Keep the question's text in the audit log; off, only its SHA-256 is kept.",
    )
    retention_days: int | None = Field(
        default=365,
        ge=1,
        description="Rows older than this are purged (by `citewise audit purge` and daily by "
        "`citewise serve`); null keeps them forever.",
    )
    purge_interval_h: float = Field(
        default=24.0, gt=0, description="How often `citewise serve` purges expired rows."
    )
