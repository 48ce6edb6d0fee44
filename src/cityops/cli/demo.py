"""``cityops demo load``: migrate the store, create the demo city, its accounts and a year of cases.

Demo/dev mode only. Running it again changes nothing (cases are generated only into a store that
has none).
"""

from __future__ import annotations

from pathlib import Path

import click

from cityops.cli.context import AppContext, handle_errors, pass_app
from cityops.demo.cases import DEFAULT_CASES
from cityops.demo.load import load_demo
from cityops.demo.sensors import HISTORY_DAYS
from cityops.storage import migrate


@click.group()
def demo() -> None:
    """Load the demo city."""


@demo.command("load")
@click.option(
    "--cases",
    "case_count",
    type=click.IntRange(min=0),
    default=DEFAULT_CASES,
    show_default=True,
    help="How many cases of history to generate (only into a store without cases).",
)
@click.option(
    "--sensor-days",
    type=click.IntRange(min=0, max=366),
    default=HISTORY_DAYS,
    show_default=True,
    help="Days of sensor history to generate (only for sensors without readings).",
)
@pass_app
@handle_errors
def load(app: AppContext, case_count: int, sensor_days: int) -> None:
    """Create or update the demo data; prints the demo accounts' passwords."""
    settings = app.settings
    if settings.mode == "production":
        raise click.ClickException(
            "demo data is for CITYOPS_MODE=demo or dev; refusing in production mode"
        )
    services = app.services(require_migrated=False)
    migrate.upgrade(services.store.engine)
    credentials_file = Path(settings.data_dir) / "demo-credentials.txt"
    summary = load_demo(services, credentials_file, cases=case_count, sensor_days=sensor_days)
    click.echo(f"Demo accounts (also in {credentials_file}):")
    for credential in summary.credentials:
        click.echo(f"  {credential.username:<12} {credential.role.value:<20} {credential.password}")
    click.echo(
        f"Demo city 黄浦区 (310101): {summary.grids} unit grids "
        f"({summary.divisions_created} divisions new, {summary.divisions_unchanged} unchanged), "
        f"{summary.components} components, {summary.places} places, "
        f"{summary.rules} matter rules, {summary.cases} cases ({summary.cases_added} new), "
        f"{summary.sensors} sensors with {summary.datastreams} datastreams "
        f"({summary.readings_added:,} readings new)"
    )
