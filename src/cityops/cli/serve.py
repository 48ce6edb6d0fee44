"""``cityops serve``: run the web app and API with uvicorn."""

from __future__ import annotations

import click
import uvicorn

from cityops.cli.context import AppContext, handle_errors, pass_app
from cityops.logs import configure_logging


@click.command()
@click.option("--host", help="Listen address (default: CITYOPS_HOST).")
@click.option("--port", type=int, help="Listen port (default: CITYOPS_PORT).")
@pass_app
@handle_errors
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the dashboard and the API until Ctrl-C."""
    # Imported here so `cityops --help` stays fast and needs no web stack.
    from cityops.web.app import create_app

    settings = app.settings
    configure_logging(settings.log_level, settings.log_format)
    services = app.services()
    web_app = create_app(services=services)
    host = host or settings.host
    port = port or settings.port
    click.echo(
        f"cityops {settings.mode} mode on http://{host}:{port}  (store: {services.store.dialect})"
    )
    uvicorn.run(web_app, host=host, port=port, log_config=None, access_log=False)
