"""``cityops demo load``: migrate the store and create the demo accounts (demo/dev mode only)."""

from __future__ import annotations

from pathlib import Path

import click

from cityops.cli.context import AppContext, handle_errors, pass_app
from cityops.demo.load import load_demo
from cityops.storage import migrate


@click.group()
def demo() -> None:
    """Load the demo city."""


@demo.command("load")
@pass_app
@handle_errors
def load(app: AppContext) -> None:
    """Create or update the demo data; prints the demo accounts' passwords."""
    settings = app.settings
    if settings.mode == "production":
        raise click.ClickException(
            "demo data is for CITYOPS_MODE=demo or dev; refusing in production mode"
        )
    services = app.services(require_migrated=False)
    migrate.upgrade(services.store.engine)
    credentials_file = Path(settings.data_dir) / "demo-credentials.txt"
    summary = load_demo(services, credentials_file)
    click.echo(f"Demo accounts (also in {credentials_file}):")
    for credential in summary.credentials:
        click.echo(f"  {credential.username:<12} {credential.role.value:<20} {credential.password}")
    click.echo(
        f"Demo city 黄浦区 (310101): {summary.grids} unit grids "
        f"({summary.divisions_created} divisions new, {summary.divisions_unchanged} unchanged), "
        f"{summary.components} components, {summary.places} places"
    )
