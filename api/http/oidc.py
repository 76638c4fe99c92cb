"""OIDC bearer tokens: JWTs from an identity provider, verified against its published keys.

The adapter keeps PyJWT inside: callers see ``Principal``, ``AuthenticationError`` (401, with
a one-line reason) and ``JwksUnavailableError`` (503, retryable). ``BearerAuthenticator`` sends
each token to the API-key store or to the JWT verifier by its shape.
"""

from __future__ import annotations

import hmac
import math
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import jwt

from api.http.auth import AuthenticationError, Authenticator
from core.errors import CitewiseError, ConfigError
from core.models import Principal
from core.settings import OidcSettings
from store.key_store import TOKEN_PREFIX

FETCH_TIMEOUT_S = 5.0
"""A JWKS fetch slower than this fails the request (503) instead of holding it."""
REFRESH_COOLDOWN_S = 30.0
"""At most one early refresh per this period for an unknown ``kid`` (capped at the cache
lifetime): rotated keys are found at once, made-up ``kid``s cannot hammer the provider."""

# header.payload.signature, base64url; an unsigned ("alg": "none") token has no signature part.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SEPARATORS = re.compile(r"[\s,]+")
# Most specific first: InvalidSignatureError is a DecodeError, all are InvalidTokenError.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token is for another audience"),
    (jwt.InvalidIssuerError, "token is from another issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "signature algorithm not accepted"),
    (jwt.InvalidIssuedAtError, "token has an invalid issued-at time"),
    (jwt.DecodeError, "malformed token"),
)


class JwksUnavailableError(CitewiseError):
    """The identity provider's signing keys could not be fetched; retrying may help."""

    retryable = True


class JwtAuthenticator:
    """Verifies a JWT (signature by ``kid``, ``iss``, ``aud``, ``exp``, ``nbf``) and maps its
    claims to a ``Principal``; raises AuthenticationError saying why a token fails."""

    def __init__(self, settings: OidcSettings, *, default_tenant: str | None = None) -> None:
        """Keys come from ``jwks_url`` (fetched on first use, then cached) or ``jwks_file``
        (read now: ConfigError if unusable). ``default_tenant`` applies without a tenant
        claim."""
        if settings.issuer is None or settings.audience is None:
            raise ConfigError("OIDC is not configured: api.oidc.issuer and audience are unset")
        self._settings = settings
        self._issuer = settings.issuer
        self._audience = settings.audience
        self._default_tenant = default_tenant
        self._keys: _RemoteKeys | _FileKeys
        if settings.jwks_url is not None:
            self._keys = _RemoteKeys(settings.jwks_url, settings.jwks_cache_s)
        elif settings.jwks_file is not None:
            self._keys = _FileKeys(settings.jwks_file)
        else:
            raise ConfigError("api.oidc needs jwks_url or jwks_file")

    def authenticate(self, token: str) -> Principal:
        """The principal a valid token stands for; AuthenticationError if it is not valid,
        JwksUnavailableError if the keys cannot be fetched."""
        return self._principal(self._verified_claims(token, self._audience))

    def authenticate_id_token(self, token: str, *, client_id: str, nonce: str) -> Principal:
        """The principal of an ID token from the web sign-in: verified like an access token,
        but issued to ``client_id`` and carrying the ``nonce`` this sign-in sent (so a token
        from another sign-in cannot be replayed into this one)."""
        claims = self._verified_claims(token, client_id)
        found = claims.get("nonce")
        if not isinstance(found, str) or not hmac.compare_digest(found.encode(), nonce.encode()):
            raise AuthenticationError("ID token nonce does not match this sign-in")
        return self._principal(claims)

    def _verified_claims(self, token: str, audience: str) -> dict[str, object]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as e:
            raise AuthenticationError("malformed token") from e
        # Checked before any key lookup, so "none" and HS* tokens fail with a clear reason
        # (PyJWT would refuse them too).
        if header.get("alg") not in self._settings.algorithms:
            raise AuthenticationError("signature algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("token has no key id (kid)")
        key = self._keys.find(kid)
        if key is None:
            raise AuthenticationError("unknown key id (kid)")
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                key,
                algorithms=list(self._settings.algorithms),
                audience=audience,
                issuer=self._issuer,
                leeway=self._settings.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.MissingRequiredClaimError as e:
            raise AuthenticationError(f"token lacks the required claim {e.claim}") from e
        except jwt.InvalidTokenError as e:
            raise AuthenticationError(_reason(e)) from e
        return claims

    def _principal(self, claims: Mapping[str, object]) -> Principal:
        settings = self._settings
        user = claim_at(claims, settings.user_claim)
        if not isinstance(user, str) or not user.strip():
            raise AuthenticationError(f"token lacks the user claim {settings.user_claim}")
        tenant = self._default_tenant
        if settings.tenant_claim is not None:
            value = claim_at(claims, settings.tenant_claim)
            # No tenant would mean every tenant's documents: refuse rather than widen access.
            if not isinstance(value, str) or not value:
                raise AuthenticationError(f"token lacks the tenant claim {settings.tenant_claim}")
            tenant = value
        groups = parse_groups(claim_at(claims, settings.groups_claim), settings.groups_claim)
        return Principal(user_id=user.strip(), groups=groups, tenant=tenant)


class BearerAuthenticator:
    """API keys (``cw_...``) go to the key store, JWTs to the OIDC verifier when there is one;
    any other token is unknown."""

    def __init__(self, keys: Authenticator, jwts: JwtAuthenticator | None = None) -> None:
        """``jwts`` is None when OIDC is off."""
        self._keys = keys
        self._jwts = jwts

    def authenticate(self, token: str) -> Principal | None:
        """The principal of an API key or a valid JWT; None for an unknown token."""
        if token.startswith(TOKEN_PREFIX):
            return self._keys.authenticate(token)
        if self._jwts is not None and _JWT_SHAPE.fullmatch(token):
            return self._jwts.authenticate(token)
        return None


def claim_at(claims: Mapping[str, object], path: str) -> object:
    """A claim by name, or by dotted path into nested objects (``realm_access.roles``).

    The whole name is tried first: namespaced claims such as ``https://example.com/groups``
    contain dots themselves.
    """
    if path in claims:
        return claims[path]
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def parse_groups(value: object, name: str) -> tuple[str, ...]:
    """Groups from a claim: a list of strings, or one space- or comma-separated string."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = _SEPARATORS.split(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [str(v) for v in value]
    else:
        raise AuthenticationError(f"the {name} claim is neither a list of strings nor a string")
    return tuple(dict.fromkeys(g.strip() for g in items if g.strip()))


def _reason(error: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "invalid token"


def _signing_keys(keys: jwt.PyJWKSet) -> dict[str, jwt.PyJWK]:
    # As PyJWKClient does: only signature keys, and only those with a kid to find them by.
    return {k.key_id: k for k in keys.keys if k.key_id and k.public_key_use in ("sig", None)}


class _FileKeys:
    """A JWKS read once from a file (offline deployments)."""

    def __init__(self, path: Path) -> None:
        try:
            self._keys = _signing_keys(jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, jwt.PyJWTError) as e:
            raise ConfigError(f"api.oidc.jwks_file {path} is not a usable JWKS: {e}") from e
        if not self._keys:
            raise ConfigError(f"api.oidc.jwks_file {path} holds no signing key with a kid")

    def find(self, kid: str) -> jwt.PyJWK | None:
        """The signing key named ``kid``, if the file has it."""
        return self._keys.get(kid)


class _RemoteKeys:
    """The provider's JWKS, fetched by PyJWKClient and cached for ``cache_s`` seconds."""

    def __init__(self, url: str, cache_s: int) -> None:
        self._url = url
        self._client = jwt.PyJWKClient(url, lifespan=cache_s, timeout=FETCH_TIMEOUT_S)
        self._cooldown_s = min(REFRESH_COOLDOWN_S, float(cache_s))
        self._last_refresh = -math.inf
        self._lock = threading.Lock()

    def find(self, kid: str) -> jwt.PyJWK | None:
        """The signing key named ``kid``; an unknown one refreshes the set early, once per
        cooldown, in case the provider has rotated its keys."""
        found = self._fetch(refresh=False).get(kid)
        if found is None:
            with self._lock:
                now = time.monotonic()
                if now - self._last_refresh >= self._cooldown_s:
                    self._last_refresh = now
                    found = self._fetch(refresh=True).get(kid)
        return found

    def _fetch(self, *, refresh: bool) -> dict[str, jwt.PyJWK]:
        try:
            return _signing_keys(self._client.get_jwk_set(refresh=refresh))
        except jwt.PyJWKClientConnectionError as e:
            raise JwksUnavailableError(
                f"the identity provider's keys could not be fetched from {self._url}"
            ) from e
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as e:
            # The provider answered with something that is not a key set: its problem, not
            # the caller's, and possibly passing.
            raise JwksUnavailableError(
                f"the identity provider's keys at {self._url} are not a usable JWKS"
            ) from e
