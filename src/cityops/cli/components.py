"""``cityops components`` and ``cityops places``: the components registry and the gazetteer."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.kernel.errors import FieldIssue, ValidationFailed


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read rows from a CSV file (header row) or a GeoJSON FeatureCollection of points."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [dict(row) for row in csv.DictReader(handle)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationFailed.single("file", "json", f"not valid UTF-8 JSON: {error}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValidationFailed.single("file", "feature_collection", "expected a FeatureCollection")
    rows = []
    for feature in data.get("features") or []:
        properties = dict((feature or {}).get("properties") or {})
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") == "Point":
            properties.setdefault("lon", geometry["coordinates"][0])
            properties.setdefault("lat", geometry["coordinates"][1])
        else:
            properties.setdefault("geometry", geometry or None)
        rows.append(properties)
    return rows


def _report_issues(issues: list[Any], written: bool) -> None:
    for issue in issues[1:] if not written else issues:
        click.echo(("skipped " if written else "error: ") + str(issue), err=True)
    if not written:
        first = issues[0]
        raise ValidationFailed(
            [FieldIssue(f"row {first.row}.{first.field}", first.rule, str(first))]
        )


@click.group()
def components() -> None:
    """Import, show and find managed components (管理部件, GB/T 47678.5)."""


@components.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows, list the rest.")
@pass_app
@handle_errors
def import_components(app: AppContext, path: Path, skip_invalid: bool) -> None:
    """Import components from CSV (columns = 表2 attributes + lon, lat) or GeoJSON points."""
    report = app.services().components.import_rows(
        operator(), read_rows(path), skip_invalid=skip_invalid
    )
    if report.issues:
        _report_issues(report.issues, report.written)
    click.echo(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, skipped {len(report.issues)}"
    )


@components.command("nearest")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--class", "class_code", help="Only this GB/T 47678.5 class (e.g. 01002).")
@click.option("--within", "within_m", type=float, default=100.0, show_default=True)
@click.option("-n", "limit", type=click.IntRange(1, 100), default=5, show_default=True)
@pass_app
@handle_errors
def nearest(
    app: AppContext, lon: float, lat: float, class_code: str | None, within_m: float, limit: int
) -> None:
    """Print the components nearest to LON LAT as JSON lines."""
    found = app.services().components.nearest(
        operator(), lon, lat, class_code=class_code, within_m=within_m, limit=limit
    )
    for component, distance in found:
        click.echo(
            json.dumps(
                {**component.as_json(), "distance_m": round(distance, 1)}, ensure_ascii=False
            )
        )


@components.command("show")
@click.argument("component_id")
@pass_app
@handle_errors
def show(app: AppContext, component_id: str) -> None:
    """Print one component as JSON."""
    found = app.services().components.get(operator(), component_id)
    click.echo(json.dumps(found.as_json(), ensure_ascii=False, indent=2))


@click.group()
def places() -> None:
    """Keep the gazetteer (roads, addresses, POIs) and resolve location text."""


@places.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows, list the rest.")
@pass_app
@handle_errors
def import_places(app: AppContext, path: Path, skip_invalid: bool) -> None:
    """Import places from CSV (kind,name,lon,lat,aliases,key) or GeoJSON (roads as lines)."""
    report = app.services().gazetteer.import_rows(
        operator(), read_rows(path), skip_invalid=skip_invalid
    )
    if report.issues:
        _report_issues(report.issues, report.written)
    click.echo(
        f"stored {report.stored}, unchanged {report.unchanged}, skipped {len(report.issues)}"
    )


@places.command("resolve")
@click.argument("text")
@pass_app
@handle_errors
def resolve(app: AppContext, text: str) -> None:
    """Resolve location TEXT (e.g. 南京东路与河南中路交叉口东南角) to a point and grid (JSON)."""
    resolution, location = app.services().gazetteer.resolve(operator(), text)
    click.echo(
        json.dumps(
            {**resolution.as_json(), "location": location.as_json() if location else None},
            ensure_ascii=False,
        )
    )
