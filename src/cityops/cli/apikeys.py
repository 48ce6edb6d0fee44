"""``cityops apikeys``: issue, list and revoke keys for integrations."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from cityops.auth.scopes import parse_scope
from cityops.cli.context import AppContext, handle_errors, operator, pass_app


@click.group()
def apikeys() -> None:
    """Manage API keys for integrations (sensors, vendor platforms, scripts)."""


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    required=True,
    help="A permission such as telemetry:write or cases:create; repeatable.",
)
@click.option("--scope", default="city", show_default=True, help="city, division:<code> …")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Expire after N days.")
@pass_app
@handle_errors
def create_key(
    app: AppContext,
    name: str,
    permissions: tuple[str, ...],
    scope: str,
    expires_in_days: int | None,
) -> None:
    """Issue a key; the secret is printed once and never stored."""
    services = app.services()
    expires_at = services.clock.now() + timedelta(days=expires_in_days) if expires_in_days else None
    key, secret = services.api_keys.issue(
        operator(),
        name=name,
        permissions=permissions,
        scope=parse_scope(scope, field="--scope"),
        expires_at=expires_at,
    )
    click.echo(
        f"id: {key.id}  prefix: {key.prefix}  permissions: {', '.join(sorted(key.permissions))}"
    )
    click.echo(f"key: {secret}")
    click.echo("Send it as the X-API-Key header. It is shown only now.", err=True)


@apikeys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_keys(app: AppContext, as_json: bool) -> None:
    """List keys (never their secrets)."""
    keys = app.services().api_keys.list(operator())
    if as_json:
        click.echo(json.dumps([k.public() for k in keys], ensure_ascii=False, indent=2))
        return
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        perms = ",".join(sorted(key.permissions))
        click.echo(f"{key.id:<5} {key.prefix}  {state:<8} {key.scope!s:<20} {perms}  {key.name}")


@apikeys.command("revoke")
@click.argument("key_id", type=int)
@pass_app
@handle_errors
def revoke_key(app: AppContext, key_id: int) -> None:
    """Revoke the key with KEY_ID."""
    key = app.services().api_keys.revoke(operator(), key_id)
    click.echo(f"revoked {key.prefix} ({key.name})")
