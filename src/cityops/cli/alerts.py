"""``cityops alerts``: rules from YAML, the alert queue, acknowledge and resolve, a sweep."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from cityops.alerts.model import OPEN, STATUSES
from cityops.alerts.ports import AlertFilter
from cityops.alerts.wiring import newest_readings
from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.kernel.errors import ValidationFailed


@click.group()
def alerts() -> None:
    """Alert rules, the alert queue and its lifecycle (raised → acknowledged → resolved)."""


@alerts.group("rules")
def rules() -> None:
    """Alert rules as data (YAML or JSON)."""


@rules.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
@handle_errors
def import_rules(app: AppContext, path: Path) -> None:
    """Create or replace the rules of a YAML/JSON file (a list, or {rules: [...]}), all or none."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValidationFailed.single("file", "yaml", f"cannot read {path}: {error}") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if not isinstance(data, list):
        raise ValidationFailed.single("rules", "array", "the file holds a list of rules")
    stored = app.services().alerts.put_rules(operator(), data)
    click.echo(f"{len(stored)} rules stored: {', '.join(r.key for r in stored)}")


@rules.command("list")
@pass_app
@handle_errors
def list_rules(app: AppContext) -> None:
    """Print the rules as YAML."""
    data = [r.as_json() for r in app.services().alerts.rules(operator())]
    click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), nl=False)


@alerts.command("list")
@click.option("--status", type=click.Choice(["open", "all", *STATUSES]), default="open")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_alerts(app: AppContext, status: str, as_json: bool) -> None:
    """Print the alert queue (open first, most severe first)."""
    statuses = {"open": OPEN, "all": STATUSES}.get(status, (status,))
    found = app.services().alerts.queue(operator(), AlertFilter(statuses=tuple(statuses)))
    if as_json:
        click.echo(json.dumps([a.as_json() for a in found], ensure_ascii=False, indent=2))
        return
    for alert in found:
        case = f" case {alert.case_id}" if alert.case_id else ""
        click.echo(
            f"{alert.id:>6} {alert.level:<3} {alert.status:<12} {alert.rule_key:<20} "
            f"{alert.message}{case}"
        )


@alerts.command("ack")
@click.argument("alert_id", type=int)
@pass_app
@handle_errors
def acknowledge(app: AppContext, alert_id: int) -> None:
    """Acknowledge a raised alert."""
    alert = app.services().alerts.acknowledge(operator(), alert_id)
    click.echo(f"alert {alert.id} {alert.status}")


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@pass_app
@handle_errors
def resolve(app: AppContext, alert_id: int) -> None:
    """Resolve an open alert by hand."""
    alert = app.services().alerts.resolve(operator(), alert_id)
    click.echo(f"alert {alert.id} {alert.status}")


@alerts.command("sweep")
@pass_app
@handle_errors
def sweep(app: AppContext) -> None:
    """Judge the missing-data rules now (the server does every minute)."""
    services = app.services()
    changed = services.alerts.sweep(newest_readings(services.store.unit_of_work))
    click.echo(f"{len(changed)} alerts raised or resolved")
