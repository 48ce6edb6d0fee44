"""``cityops things`` and ``cityops ts``: devices, datastreams, readings in and time series out."""

from __future__ import annotations

import csv
import io
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cityops.bootstrap import mqtt_worker
from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.decode import MAX_BATCH, csv_items
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.retention import RetentionService
from cityops.sensing.timeseries import Selection


@click.group()
def things() -> None:
    """Register and show devices (things) and their datastreams."""


@things.command("add")
@click.argument("key")
@click.option("--name", help="Display name (default: the key).")
@click.option("--lon", type=float)
@click.option("--lat", type=float)
@click.option("--metric", "metrics_", multiple=True, help="Add a datastream of this metric.")
@click.option("--interval", type=int, default=60, show_default=True, help="Expected seconds.")
@pass_app
@handle_errors
def add_thing(
    app: AppContext,
    key: str,
    name: str | None,
    lon: float | None,
    lat: float | None,
    metrics_: tuple[str, ...],
    interval: int,
) -> None:
    """Register device KEY (with a datastream per --metric)."""
    for metric in metrics_:
        catalogue_metric(metric)  # refuse an unknown metric before anything is written
    services = app.services()
    data: dict[str, Any] = {"key": key, "name": name or key, "lon": lon, "lat": lat}
    thing = services.devices.register_thing(operator(), data)
    click.echo(f"thing {thing.key} (id {thing.id}) grid {thing.placement.grid_code or '-'}")
    for metric in metrics_:
        stream = services.devices.add_datastream(
            operator(), thing.id, {"metric": metric, "interval_seconds": interval}
        )
        click.echo(f"  datastream {stream.key} (id {stream.id}) in {stream.unit}")


@things.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_things(app: AppContext, as_json: bool) -> None:
    """List datastreams with their device, newest reading and online state."""
    statuses = app.services().devices.datastreams(operator())
    if as_json:
        click.echo(json.dumps([s.as_json() for s in statuses], ensure_ascii=False, indent=2))
        return
    for status in statuses:
        latest = status.latest
        value = "-" if latest is None else f"{latest.value:g}"
        state = "online" if status.online else "offline"
        click.echo(f"{status.stream.key:<32} {status.stream.unit:<8} {value:>10}  {state}")


@click.group()
def ts() -> None:
    """Send readings and query time series."""


@ts.command("ingest")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@pass_app
@handle_errors
def ingest(app: AppContext, path: str) -> None:
    """Store readings from a JSON array or CSV lines (datastream,time,value,quality), - = stdin."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationFailed.single("file", "json", f"not JSON: {error}") from None
        items = data.get("observations") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValidationFailed.single("file", "array", "expected a JSON array of readings")
    else:
        items = csv_items(text)
    services = app.services()
    totals = {"received": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(items), MAX_BATCH):
        report = services.ingest.ingest(operator(), items[start : start + MAX_BATCH])
        for refused in report.errors:
            click.echo(
                f"refused item {start + refused.index}: {refused.field} ({refused.rule}) "
                f"{refused.message}",
                err=True,
            )
        totals["received"] += report.received
        totals["accepted"] += report.accepted
        totals["duplicates"] += report.duplicates
        totals["rejected"] += report.rejected
    click.echo(", ".join(f"{k} {v:,}" for k, v in totals.items()))


@ts.command("query")
@click.option("--datastream", "-d", "datastreams", multiple=True, help="Datastream key or id.")
@click.option("--metric", help="All datastreams of this metric (with --division, --thing).")
@click.option("--thing", help="Only this device's datastreams.")
@click.option("--division", help="Only devices under this division code (grid prefix).")
@click.option("--start", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]))
@click.option("--end", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]))
@click.option("--interval", help="Aggregate per interval: 1m, 15m, 1h, 1d, 1w (default: raw).")
@click.option("--fn", "functions", default="avg", show_default=True, help="avg,min,max,p95,…")
@click.option(
    "--group-by",
    type=click.Choice(["datastream", "grid", "community", "street", "district", "all"]),
    default="datastream",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=10_000, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@pass_app
@handle_errors
def query(
    app: AppContext,
    datastreams: tuple[str, ...],
    metric: str | None,
    thing: str | None,
    division: str | None,
    start: datetime | None,
    end: datetime | None,
    interval: str | None,
    functions: str,
    group_by: str,
    limit: int,
    fmt: str,
) -> None:
    """Print raw readings or aggregates of the selected datastreams."""
    result = app.services().timeseries.query(
        operator(),
        Selection(datastreams=datastreams, metric=metric, thing=thing, division=division),
        start=start,
        end=end,
        interval=interval,
        functions=[f.strip() for f in functions.split(",") if f.strip()],
        group_by=group_by,
        limit=limit,
    )
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    columns = (
        ["value", "quality"] if interval is None else [f.strip() for f in functions.split(",")]
    )
    rows = [
        [series["key"], point["time"], *(point.get(c) for c in columns)]
        for series in result["series"]
        for point in series["points"]
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["series", "time", *columns])
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    click.echo("  ".join(["series".ljust(28), "time".ljust(32), *(c.rjust(10) for c in columns)]))
    for row in rows:
        cells = [_cell(v) for v in row[2:]]
        click.echo("  ".join([str(row[0]).ljust(28), str(row[1]).ljust(32), *cells]))


@ts.command("latest")
@click.option("--metric", help="Only datastreams of this metric.")
@click.option("--division", help="Only devices under this division code.")
@pass_app
@handle_errors
def latest(app: AppContext, metric: str | None, division: str | None) -> None:
    """Print the newest reading of each datastream (JSON)."""
    services = app.services()
    if metric is None:
        keys = tuple(s.stream.key for s in services.devices.datastreams(operator()))
        selection = Selection(datastreams=keys, division=division)
    else:
        selection = Selection(metric=metric, division=division)
    rows = (
        services.timeseries.latest(operator(), selection) if selection.datastreams or metric else []
    )
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


def _cell(value: Any) -> str:
    if value is None:
        return "-".rjust(10)
    if isinstance(value, float):
        return f"{value:10.2f}"
    return str(value).rjust(10)


@ts.command("mqtt")
@click.option("--url", help="Broker URL (default: CITYOPS_MQTT_URL).")
@click.option("--client-id", help="This worker's client id (default: CITYOPS_MQTT_CLIENT_ID).")
@click.option("--group", help="Shared-subscription group (default: CITYOPS_MQTT_GROUP).")
@pass_app
@handle_errors
def mqtt_ingest(app: AppContext, url: str | None, client_id: str | None, group: str | None) -> None:
    """Run one MQTT ingest worker until interrupted (start several to split the load)."""
    settings = app.settings.model_copy(
        update={
            key: value
            for key, value in (
                ("mqtt_url", url),
                ("mqtt_client_id", client_id),
                ("mqtt_group", group),
            )
            if value is not None
        }
    )
    if not settings.mqtt_url:
        raise ValidationFailed.single("url", "required", "give --url or set CITYOPS_MQTT_URL")
    services = app.services()
    worker = mqtt_worker(settings, services.ingest, services.decoder, services.clock)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    services.rollup_fold.start()
    services.wal_checkpoint.start()
    while not worker.wait_connected(10) and not stop.is_set():
        click.echo(f"waiting for the broker at {settings.mqtt_url} …", err=True)
    click.echo(
        f"subscribed to {settings.mqtt_topics} on {settings.mqtt_url} as {settings.mqtt_client_id}"
    )
    while not stop.wait(10):
        stats = worker.stats
        click.echo(
            f"messages {stats.messages:,}, stored {stats.stored:,}, duplicates "
            f"{stats.duplicates:,}, refused {stats.refused:,}",
            err=True,
        )
    worker.stop()
    services.rollup_fold.stop()
    services.wal_checkpoint.stop()
    services.rollups.fold()
    click.echo(f"stopped: stored {worker.stats.stored:,} readings")


@ts.command("prune")
@pass_app
@handle_errors
def prune(app: AppContext) -> None:
    """Delete readings and minute rollups past CITYOPS_TELEMETRY_RAW_DAYS / _MINUTE_DAYS."""
    services = app.services()
    settings = services.settings
    removed = RetentionService(
        services.store.unit_of_work,
        services.clock,
        settings.telemetry_raw_days,
        settings.telemetry_minute_days,
        catch_up=services.rollups.catch_up,
    ).prune(operator())
    click.echo(", ".join(f"{k} {v:,}" for k, v in removed.items()))
