"""The ``cityops`` command group."""

from __future__ import annotations

import json

import click

import cityops
from cityops.cli import (
    alerts,
    apikeys,
    aqi,
    audit,
    calendar,
    cases,
    components,
    db,
    demo,
    geo,
    indices,
    serve,
    simulate,
    telemetry,
    users,
)
from cityops.cli.context import AppContext, handle_errors, pass_app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(cityops.__version__, prog_name="cityops")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Cityops — city operations management platform (城市运行管理服务平台, 一网统管).

    Settings come from CITYOPS_* environment variables or a .env file (see `cityops settings`).
    """
    app = ctx.ensure_object(AppContext)
    ctx.call_on_close(app.close)


@cli.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def show_settings(app: AppContext, as_json: bool) -> None:
    """Print the effective settings with secrets masked."""
    shown = app.settings.masked()
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    width = max(len(name) for name in shown)
    for name, value in shown.items():
        shown_value = '""' if value == "" else value  # an empty value stays visible
        click.echo(f"CITYOPS_{name.upper():<{width}}  {shown_value}")


cli.add_command(serve.serve)
cli.add_command(db.db)
cli.add_command(users.users)
cli.add_command(users.departments)
cli.add_command(apikeys.apikeys)
cli.add_command(audit.audit)
cli.add_command(demo.demo)
cli.add_command(geo.geo)
cli.add_command(components.components)
cli.add_command(components.places)
cli.add_command(calendar.calendar)
cli.add_command(cases.cases)
cli.add_command(aqi.aqi_command)
cli.add_command(alerts.alerts)
cli.add_command(telemetry.things)
cli.add_command(telemetry.ts)
cli.add_command(simulate.simulate)
cli.add_command(indices.indices)


def main() -> None:
    """Run the command line."""
    cli(prog_name="cityops")
