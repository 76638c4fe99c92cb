"""``citewise keys``: create, list and revoke the API keys the HTTP API accepts."""

from __future__ import annotations

import getpass
import json
from contextlib import closing
from datetime import datetime
from typing import Annotated

import typer
from pydantic import JsonValue
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api import composition
from api.cli.support import ConfigOption, JsonOption, err, fail, load_settings, split_values
from core.errors import CitewiseError
from core.models import Principal
from core.settings import Settings
from store.audit_store import AuditAction
from store.key_store import ApiKeyInfo, ApiKeyStore

keys_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
out = Console(soft_wrap=True)


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user id the key acts as.")],
    groups: Annotated[
        list[str] | None,
        typer.Option("--groups", "--group", help="The user's groups (repeat or comma-separate)."),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant (default: the configured one).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label, e.g. who holds it.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Create a key and print its token, once: it is stored hashed and cannot be shown again."""
    if not user.strip():
        raise typer.BadParameter("must not be empty", param_hint="--user")
    try:
        settings = load_settings(config)
        store = _open_store(settings)
        try:
            info, token = store.create(
                user, split_values(groups), tenant=tenant or settings.tenant, name=name
            )
        finally:
            store.close()
        detail: dict[str, JsonValue] = {"user_id": info.user_id, "groups": list(info.groups)}
        _audit(settings, AuditAction.KEY_CREATE, info.key_id, detail)
    except CitewiseError as e:
        raise fail(e) from e
    warning = (
        "[bold yellow]Store this token now: it is shown only this once and cannot be "
        "shown again.[/bold yellow] Send it as 'Authorization: Bearer <token>'."
    )
    if as_json:
        err.print(warning)
        out.print_json(json.dumps({**info.model_dump(mode="json"), "token": token}))
        return
    out.print(
        f"created key [bold]{info.key_id}[/bold] for user {escape(info.user_id)}"
        f" (groups: {escape(', '.join(info.groups) or '-')})"
    )
    err.print(warning)
    print(token)  # plain stdout: no wrapping or markup, easy to copy or capture


@keys_app.command("list")
def keys_list(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List every key, revoked ones included (never their secrets)."""
    try:
        settings = load_settings(config)
        store = _open_store(settings)
        try:
            keys = store.list_keys()
        finally:
            store.close()
    except CitewiseError as e:
        raise fail(e) from e
    if as_json:
        out.print_json(json.dumps([k.model_dump(mode="json") for k in keys]))
        return
    table = Table()
    for column in ("id", "user", "groups", "name", "created", "last used", "revoked"):
        # ids and times stay whole on narrow terminals; names and groups wrap instead
        table.add_column(column, no_wrap=column in {"id", "created", "last used", "revoked"})
    for key in keys:
        table.add_row(*_row(key))
    out.print(table)
    active = sum(1 for k in keys if k.revoked_at is None)
    out.print(f"{len(keys)} key{'' if len(keys) == 1 else 's'}, {active} active")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (12 hex characters).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: requests with its token are refused from now on."""
    try:
        settings = load_settings(config)
        store = _open_store(settings)
        try:
            store.revoke(key_id)
        finally:
            store.close()
        _audit(settings, AuditAction.KEY_REVOKE, key_id, {})
    except CitewiseError as e:
        raise fail(e) from e
    out.print(f"revoked {escape(key_id)}")


def _open_store(settings: Settings) -> ApiKeyStore:
    return composition.build_key_store(settings)


def _audit(
    settings: Settings, action: AuditAction, key_id: str, detail: dict[str, JsonValue]
) -> None:
    """Record a key change in the audit log, as done by this host's operating-system user
    (the command line has no API caller)."""
    if not settings.audit.enabled:
        return
    operator = Principal(user_id=f"cli:{getpass.getuser()}", tenant=settings.tenant)
    with closing(composition.build_audit_store(settings)) as audit:
        audit.record(action, operator, target=key_id, detail=detail)


def _row(key: ApiKeyInfo) -> tuple[str, ...]:
    return (
        key.key_id,
        escape(key.user_id),
        escape(", ".join(key.groups)),
        escape(key.name or ""),
        _when(key.created_at),
        _when(key.last_used_at) or "never",
        _when(key.revoked_at) or "-",
    )


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else ""
