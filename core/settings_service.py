"""Settings sections of the service around the pipeline: API, OIDC, registry, ACL, ingestion.

Part of :mod:`core.settings`, which assembles them into ``Settings`` and re-exports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from core.models import PUBLIC_GROUP
from core.settings_pipeline import _Section

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
    client_id: str | None = Field(
        default=None,
        description="The web app's client id at the provider: set it to offer \"Sign in with "
        'your identity provider" (authorization code flow with PKCE); ID tokens must carry '
        "it as their audience. Null: API-key sign-in only.",
    )
    client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret for a confidential client (sent to the token endpoint "
        "with HTTP Basic); null for a public client (PKCE alone).",
    )
    authorization_endpoint: str | None = Field(
        default=None,
        description="The provider's authorization endpoint; null: read from "
        "`{issuer}/.well-known/openid-configuration` at the first sign-in.",
    )
    token_endpoint: str | None = Field(
        default=None,
        description="The provider's token endpoint; null: read from the discovery document.",
    )
    redirect_url: str | None = Field(
        default=None,
        description="The callback URL registered at the provider (ends in "
        "`/web/oidc/callback`); null: derived from the request's own URL.",
    )
    scopes: tuple[str, ...] = Field(
        default=("openid", "profile", "email"),
        description="Scopes asked for at sign-in (`openid` is always added); add the one your "
        "provider needs to put the groups claim into ID tokens.",
    )

    @property
    def enabled(self) -> bool:
        """Whether JWTs are accepted at all."""
        return self.issuer is not None

    @property
    def login_enabled(self) -> bool:
        """Whether the web app offers sign-in with the identity provider."""
        return self.issuer is not None and self.client_id is not None

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
            if self.audience or self.jwks_url or self.jwks_file or self.client_id:
                raise ValueError(
                    "oidc.audience, client_id or a JWKS is set but oidc.issuer is not: set "
                    "issuer to turn OIDC on"
                )
            return self
        if not self.audience:
            raise ValueError("oidc.audience is required when oidc.issuer is set")
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("set exactly one of oidc.jwks_url and oidc.jwks_file")
        for name in ("jwks_url", "authorization_endpoint", "token_endpoint", "redirect_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError(f"oidc.{name} must be an http(s) URL")
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
    max_json_kb: int = Field(
        default=256,
        ge=1,
        description="Largest request body other than an upload (JSON, forms), counted as it "
        "streams in whatever its headers say; larger: 413 before it is parsed.",
    )
    max_anonymous_body_kb: int = Field(
        default=16,
        ge=1,
        description="Largest body of a request without credentials outside /v1 (the web "
        "sign-in form); /v1 without valid credentials is refused (401) before any body byte "
        "is read.",
    )
    body_idle_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A request body that sends nothing for this long is dropped (408).",
    )
    body_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A request body must arrive whole within this long (408).",
    )
    display_roots: tuple[Path, ...] = Field(
        default=(),
        description="Folders you ingest: readers who are not admins see a file's path "
        "relative to the one holding it (a file outside them: its name only); admins see "
        "`file://` URIs.",
    )


class WebSettings(_Section):
    """The web app's sign-in sessions (cookie ``citewise_session``).

    Sessions are kept in the serving process's memory: sign-out and a revoked API key end them
    at once, and a restart ends them all (users sign in again). Several API replicas behind
    one address need sticky sessions.
    """

    session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="How long a web sign-in lasts (the session cookie's expiry).",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs the session and sign-in cookies (at least 32 characters); null: a "
        "random secret per process.",
    )
    max_sessions: int = Field(
        default=10_000,
        ge=1,
        description="Most signed-in sessions kept at once; beyond it the oldest ends.",
    )
    max_sessions_per_user: int = Field(
        default=20,
        ge=1,
        description="Most signed-in sessions of one user; beyond it that user's oldest ends "
        "(so one key signing in repeatedly cannot end other users' sessions).",
    )

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("web.session_secret must be at least 32 characters")
        return value


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
    max_unzipped_mb: float = Field(
        default=200.0,
        gt=0,
        description="A ZIP-based file (docx, pptx, xlsx, odt, epub) whose entries expand to "
        "more fails before it is opened (decompression bombs).",
    )
    max_zip_ratio: float = Field(
        default=200.0,
        gt=1,
        description="A ZIP-based file expanding to more than this many times its own size "
        "fails before it is opened.",
    )
    max_pdf_pages: int = Field(
        default=2000, ge=1, description="A PDF with more pages fails before it is partitioned."
    )
    max_ocr_pages: int = Field(
        default=50, ge=1, description="A PDF with more pages is not OCRed (it fails instead)."
    )
    max_parse_s: float = Field(
        default=600.0,
        gt=0,
        description="Wall-clock limit for parsing one file (the bulk of an ingestion job); "
        "over it the file fails and its parser process is replaced. Parser processes only "
        "(ingest.workers > 0).",
    )
    parser_memory_mb: int = Field(
        default=4096,
        ge=0,
        description="Address-space limit (RLIMIT_AS) of each parser process: a file needing "
        "more fails, the batch goes on; 0: none. Parser processes only (ingest.workers > 0).",
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
