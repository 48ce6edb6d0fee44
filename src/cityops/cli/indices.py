"""``cityops indices``: the city indices from stored readings (AQI, noise, water, traffic) as JSON.

The same answers as ``GET /api/v1/indices/...`` (see docs/air-quality.md), for an operator at the
server's shell or a cron job that files the daily report.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click

from cityops.analytics.aqi import DEFAULT_STANDARD, REPORTS, STANDARDS
from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.sensing.indices import GROUPS

TIME = click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"])
DAY = click.DateTime(["%Y-%m-%d"])


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _print(answer: dict[str, Any]) -> None:
    click.echo(json.dumps(answer, ensure_ascii=False, indent=2))


def _where(func: Any) -> Any:
    """Add --station, --division and --group-by."""
    func = click.option(
        "--group-by", type=click.Choice(GROUPS), default="station", show_default=True
    )(func)
    func = click.option("--division", help="Only stations under this division code.")(func)
    return click.option("--station", help="Only this station (thing key).")(func)


@click.group()
def indices() -> None:
    """City indices from stored readings, per station or division (JSON)."""


@indices.command("air")
@click.option("--report", type=click.Choice(REPORTS), default="hourly", show_default=True)
@click.option("--at", type=TIME, help="Hourly: the hour ending then (default: the last one).")
@click.option("--day", type=DAY, help="Daily: the local day (default: yesterday).")
@click.option(
    "--standard", type=click.Choice(sorted(STANDARDS)), default=DEFAULT_STANDARD, show_default=True
)
@_where
@pass_app
@handle_errors
def air(
    app: AppContext,
    report: str,
    at: datetime | None,
    day: datetime | None,
    standard: str,
    station: str | None,
    division: str | None,
    group_by: str,
) -> None:
    """Print the AQI (HJ 633) per station or division, hourly (实时报) or daily (日报)."""
    _print(
        app.services().indices.air(
            operator(),
            report=report,
            at=at,
            day=_day(day),
            station=station,
            division=division,
            group_by=group_by,
            standard=standard,
        )
    )


@indices.command("noise")
@click.option("--day", type=DAY, help="The local day (default: yesterday).")
@_where
@pass_app
@handle_errors
def noise(
    app: AppContext,
    day: datetime | None,
    station: str | None,
    division: str | None,
    group_by: str,
) -> None:
    """Print Ld and Ln per monitor against its GB 3096 zone, or compliance per division."""
    _print(
        app.services().indices.noise(
            operator(), day=_day(day), station=station, division=division, group_by=group_by
        )
    )


@indices.command("water")
@click.option("--at", type=TIME, help="The newest readings in the 24 hours before this time.")
@click.option("--day", type=DAY, help="The local day's means instead of the newest readings.")
@_where
@pass_app
@handle_errors
def water(
    app: AppContext,
    at: datetime | None,
    day: datetime | None,
    station: str | None,
    division: str | None,
    group_by: str,
) -> None:
    """Print each water station's GB 3838 class, or the classes per division."""
    _print(
        app.services().indices.water(
            operator(),
            at=at,
            day=_day(day),
            station=station,
            division=division,
            group_by=group_by,
        )
    )


@indices.command("traffic")
@click.option("--at", type=TIME, help="The end of the 15-minute window (default: now).")
@click.option("--division", help="Only links under this division code.")
@pass_app
@handle_errors
def traffic(app: AppContext, at: datetime | None, division: str | None) -> None:
    """Print each link's level and the network traffic index (TPI)."""
    _print(app.services().indices.traffic(operator(), at=at, division=division))
