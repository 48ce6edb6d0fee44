"""``cityops db``: migrate the store and check it against the code."""

from __future__ import annotations

import click

from cityops.cli.context import AppContext, handle_errors, pass_app
from cityops.settings import mask_url_password
from cityops.storage import migrate


@click.group()
def db() -> None:
    """Manage the store's schema (SQLite or PostgreSQL)."""


@db.command()
@pass_app
@handle_errors
def upgrade(app: AppContext) -> None:
    """Create or migrate the store to the newest schema (safe to repeat)."""
    engine = app.services(require_migrated=False).store.engine
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    after = migrate.current_revision(engine)
    where = mask_url_password(app.settings.database_url)
    if before == after:
        click.echo(f"{where}: already at {after}")
    else:
        click.echo(f"{where}: upgraded {before or 'empty'} → {after}")


@db.command()
@pass_app
@handle_errors
def current(app: AppContext) -> None:
    """Print the store's revision and the code's head revision."""
    engine = app.services(require_migrated=False).store.engine
    click.echo(f"current: {migrate.current_revision(engine) or 'none'}")
    click.echo(f"head:    {migrate.head_revision()}")


@db.command()
@pass_app
@handle_errors
def check(app: AppContext) -> None:
    """Exit 1 unless the store is at head and its tables match the code exactly."""
    status = migrate.check(app.services(require_migrated=False).store.engine)
    for difference in status.differences:
        click.echo(f"drift: {difference}")
    if status.current != status.head:
        click.echo(f"revision: store at {status.current or 'none'}, code at {status.head}")
    if not status.ok:
        raise SystemExit(1)
    click.echo(f"ok: at {status.head}, schema matches")
