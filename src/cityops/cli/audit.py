"""``cityops audit tail``: read the newest audit entries, optionally following new ones."""

from __future__ import annotations

import json
import time

import click

from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.kernel.audit import AuditEntry, AuditFilter


@click.group()
def audit() -> None:
    """Read the audit log."""


def _line(entry: AuditEntry, as_json: bool, zone: object) -> str:
    if as_json:
        return json.dumps(
            {
                "id": entry.id,
                "at": entry.at.isoformat(),
                "actor": entry.actor,
                "actor_kind": entry.actor_kind,
                "role": entry.role,
                "scope": entry.scope,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "before": entry.before,
                "after": entry.after,
                "request_id": entry.request_id,
                "client_address": entry.client_address,
            },
            ensure_ascii=False,
        )
    at = entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]
    who = f"{entry.actor}" + (f" ({entry.role}@{entry.scope})" if entry.role else "")
    return f"{entry.id:>7} {at} {who:<36} {entry.action:<20} {entry.object_type}:{entry.object_id}"


@audit.command("tail")
@click.option("-n", "--lines", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--action", help="Only this action (e.g. user.create).")
@click.option("--actor", help="Only this actor.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
@handle_errors
def tail(
    app: AppContext,
    lines: int,
    action: str | None,
    actor: str | None,
    follow: bool,
    as_json: bool,
) -> None:
    """Print the newest audit entries, oldest first."""
    services = app.services()
    zone = services.settings.zone
    entries = services.audit.query(operator(), AuditFilter(action=action, actor=actor, limit=lines))
    last_id = 0
    for entry in reversed(entries):
        click.echo(_line(entry, as_json, zone))
        last_id = max(last_id, entry.id or 0)
    while follow:
        time.sleep(1)
        newer = services.audit.query(
            operator(), AuditFilter(action=action, actor=actor, limit=1000)
        )
        for entry in reversed([e for e in newer if (e.id or 0) > last_id]):
            click.echo(_line(entry, as_json, zone))
            last_id = max(last_id, entry.id or 0)
