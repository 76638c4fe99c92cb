"""API keys for the HTTP API: created by an operator, stored hashed, revocable.

A token reads ``cw_<key_id>_<secret>``. The ``key_id`` (12 hex characters) is not secret: it
names the key in listings and finds its row. Only the SHA-256 of the secret is stored, so a
copy of the database does not reveal a usable token. The table ``api_keys`` lives in the same
database as the document registry, under its own metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.errors import NotFoundError, RegistryError
from core.models import Principal
from store.sql_store import SqlStore

TOKEN_PREFIX = "cw_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, not on every request."""

# secrets.token_urlsafe(32) gives 43 characters; accept a little more for future lengths.
_TOKEN = re.compile(r"cw_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})")
_ID_ATTEMPTS = 5


class _Base(DeclarativeBase):
    pass


class _KeyRow(_Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(Text)
    groups: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiKeyInfo(BaseModel):
    """What is known of an API key, without its secret."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    user_id: str
    groups: tuple[str, ...]
    tenant: str | None
    name: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyStore(SqlStore):
    """API keys in a SQL database (SQLite or PostgreSQL), checked on every HTTP request."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _Base.metadata, "API key store")

    def create(
        self,
        user_id: str,
        groups: Sequence[str] = (),
        *,
        tenant: str | None = None,
        name: str | None = None,
    ) -> tuple[ApiKeyInfo, str]:
        """Create a key for ``user_id``; return its info and the plaintext token.

        The token is not stored and cannot be recovered: hand it to the user now.
        Raises ValueError for an empty ``user_id``.
        """
        user_id = user_id.strip()
        if not user_id:
            raise ValueError("an API key needs a non-empty user id")
        clean_groups = list(dict.fromkeys(g.strip() for g in groups if g.strip()))
        secret = secrets.token_urlsafe(32)
        with self._session() as s:
            key_id = _new_key_id(s)
            row = _KeyRow(
                key_id=key_id,
                secret_sha256=_digest(secret),
                user_id=user_id,
                groups=json.dumps(clean_groups),
                tenant=tenant,
                name=name,
                created_at=_now(),
                revoked_at=None,
                last_used_at=None,
            )
            s.add(row)
            info = _to_info(row)
        return info, f"{TOKEN_PREFIX}{key_id}_{secret}"

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token stands for; None if unknown, malformed or revoked.

        A database failure raises RegistryError rather than answering None, so an outage is
        not mistaken for a bad key.
        """
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        key_id, secret = match.groups()
        with self._session() as s:
            row = s.get(_KeyRow, key_id)
            # The key_id is not secret (it is listed), so finding its row is no oracle; the
            # secret itself is compared in constant time.
            if row is None or not hmac.compare_digest(_digest(secret), row.secret_sha256):
                return None
            if row.revoked_at is not None:
                return None
            now = _now()
            last = _aware(row.last_used_at)
            if last is None or now - last >= LAST_USED_RESOLUTION:
                row.last_used_at = now
            return Principal(user_id=row.user_id, groups=_groups(row), tenant=row.tenant)

    def revoke(self, key_id: str) -> None:
        """Revoke a key for good; NotFoundError for an unknown id, no-op if already revoked."""
        with self._session() as s:
            row = s.get(_KeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key {key_id}")
            if row.revoked_at is None:
                row.revoked_at = _now()

    def list_keys(self) -> list[ApiKeyInfo]:
        """Every key, revoked ones included, oldest first."""
        with self._session() as s:
            rows = s.scalars(select(_KeyRow).order_by(_KeyRow.created_at, _KeyRow.key_id))
            return [_to_info(row) for row in rows]


def _digest(secret: str) -> str:
    # A plain SHA-256 is enough: the secret is 256 bits from `secrets`, so there is no
    # dictionary to try and brute force is out of reach. A slow KDF (bcrypt, scrypt) guards
    # low-entropy passwords and would only add its cost to every API request.
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_key_id(s: Session) -> str:
    # 48 random bits: a clash is very unlikely, but cheap to rule out.
    for _ in range(_ID_ATTEMPTS):
        key_id = secrets.token_hex(6)
        if s.get(_KeyRow, key_id) is None:
            return key_id
    raise RegistryError("could not find a free API key id")  # pragma: no cover


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored value was written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _groups(row: _KeyRow) -> tuple[str, ...]:
    return tuple(str(g) for g in json.loads(row.groups or "[]"))


def _to_info(row: _KeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.key_id,
        user_id=row.user_id,
        groups=_groups(row),
        tenant=row.tenant,
        name=row.name,
        created_at=_utc(row.created_at),
        revoked_at=_aware(row.revoked_at),
        last_used_at=_aware(row.last_used_at),
    )
