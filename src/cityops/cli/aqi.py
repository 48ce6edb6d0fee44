"""``cityops aqi``: the air quality index of a set of concentrations (HJ 633—2026 or —2012)."""

from __future__ import annotations

import json

import click

from cityops.analytics.aqi import DEFAULT_STANDARD, REPORTS, STANDARDS, aqi, resolve
from cityops.cli.context import handle_errors
from cityops.kernel.errors import ValidationFailed


@click.command("aqi")
@click.option(
    "--standard",
    type=click.Choice(sorted(STANDARDS)),
    default=DEFAULT_STANDARD,
    show_default=True,
    help="HJ633-2026 (current) or HJ633-2012 (historical data).",
)
@click.option(
    "--report",
    type=click.Choice(REPORTS),
    default="daily",
    show_default=True,
    help="daily (日报: 24 h averages, O₃ 8 h) or hourly (实时报: 1 h averages).",
)
@click.argument("values", nargs=-1, required=True)
@handle_errors
def aqi_command(standard: str, report: str, values: tuple[str, ...]) -> None:
    """Print the AQI of VALUES (name=value: pm25=80 pm10=130 o3_8h=180 so2=100 no2=85 co=1.5).

    Concentrations in µg/m³, CO in mg/m³. A bare pollutant name means the report's averaging
    (pm25 is pm25_24h in a daily report, pm25_1h in an hourly one). Prints JSON: aqi, level,
    category, color, primary_pollutants and the iaqi of each indicator.
    """
    given: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValidationFailed.single(item, "name_value", "use name=value, e.g. pm25=80")
        indicator = resolve(name, standard, report)
        if indicator in given:
            raise ValidationFailed.single(name, "unique", f"{indicator} is given twice")
        given[indicator] = value.strip()
    result = aqi(dict(given), standard=standard, report=report)
    click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
