"""``cityops geo``: import, export and check divisions and grids; locate points; grid duty."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.geo.codes import Level
from cityops.geo.files import PropertyMapping, read_file
from cityops.geo.model import FeatureIssue
from cityops.kernel.errors import ValidationFailed

LEVELS = click.Choice([level.value for level in Level])


@click.group()
def geo() -> None:
    """Divisions, unit grids (单元网格) and locating points."""


@geo.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--level", type=LEVELS, help="Refuse features that are not of this level.")
@click.option("--mapping", help="Property names: code=PROP,name=PROP,parent=PROP.")
@click.option("--layer", help="Layer of a GeoPackage (default: the first).")
@click.option("--skip-invalid", is_flag=True, help="Write the valid features, list the rest.")
@pass_app
@handle_errors
def import_command(
    app: AppContext,
    path: Path,
    level: str | None,
    mapping: str | None,
    layer: str | None,
    skip_invalid: bool,
) -> None:
    """Import divisions or grids from GeoJSON, Shapefile or GeoPackage (idempotent)."""
    inputs, issues = read_file(path, PropertyMapping.parse(mapping), layer)
    services = app.services()
    if issues and not skip_invalid:
        _fail(issues)
    report = services.divisions.import_divisions(
        operator(), inputs, level=Level(level) if level else None, skip_invalid=skip_invalid
    )
    report.issues = issues + report.issues
    if not report.written:
        _fail(report.issues)
    for issue in report.issues:
        click.echo(f"skipped {issue}", err=True)
    click.echo(
        f"created {len(report.created)}, changed {len(report.changed)}, "
        f"unchanged {len(report.unchanged)}, skipped {len(report.issues)}"
    )


def _fail(issues: list[FeatureIssue]) -> None:
    """Print one line per refused feature and exit 2 (nothing was written)."""
    for issue in issues:
        click.echo(f"error: {issue}", err=True)
    raise SystemExit(2)


@geo.command("export")
@click.option("--level", type=LEVELS)
@click.option("--parent", "parent_code", help="Only the children of this code.")
@click.option("--prefix", "code_prefix", help="Only codes starting with this.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
@handle_errors
def export_command(
    app: AppContext,
    level: str | None,
    parent_code: str | None,
    code_prefix: str | None,
    output: Path | None,
) -> None:
    """Export current divisions as a GeoJSON FeatureCollection."""
    collection = app.services().divisions.export(
        operator(),
        level=Level(level) if level else None,
        parent_code=parent_code,
        code_prefix=code_prefix,
    )
    text = json.dumps(collection, ensure_ascii=False)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(collection['features'])} features to {output}", err=True)


@geo.command("check")
@click.option("--parent", "parent_code", help="Only inside this division.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def check_command(app: AppContext, parent_code: str | None, as_json: bool) -> None:
    """Report gaps and overlaps between sibling grids; exit 1 when any is found."""
    issues = app.services().divisions.check(operator(), parent_code=parent_code)
    if as_json:
        click.echo(json.dumps([i.as_json() for i in issues], ensure_ascii=False, indent=2))
    else:
        for issue in issues:
            codes = " & ".join(issue.codes) or "-"
            click.echo(
                f"{issue.kind:<15} in {issue.parent_code}: {codes} "
                f"{issue.area_m2:.1f} m² near {issue.lon:.6f},{issue.lat:.6f}"
            )
        click.echo(f"{len(issues)} issue(s)")
    if issues:
        raise SystemExit(1)


@geo.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option(
    "--at",
    "when",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    help="Where the point fell at this time (ISO 8601).",
)
@pass_app
@handle_errors
def locate_command(app: AppContext, lon: float, lat: float, when: datetime | None) -> None:
    """Print the grid, community, street and district of LON LAT as JSON."""
    services = app.services()
    if when is None:
        found = services.locations.locate(operator(), lon, lat)
    else:
        zoned = when if when.tzinfo else when.replace(tzinfo=services.settings.zone)
        found = services.locations.locate_at(operator(), lon, lat, zoned)
    click.echo(json.dumps(found.as_json(), ensure_ascii=False))


@geo.command("locate-batch")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@pass_app
@handle_errors
def locate_batch(app: AppContext, source: TextIO) -> None:
    """Read CSV rows ``lon,lat[,…]`` and write them back with grid, community, street, district."""
    reader = csv.reader(source)
    rows = [row for row in reader if row]
    if rows and not _is_number(rows[0][0]):
        header, rows = rows[0], rows[1:]
    else:
        header = ["lon", "lat"]
    lons, lats = [], []
    for n, row in enumerate(rows, start=1):
        try:
            lons.append(float(row[0]))
            lats.append(float(row[1]))
        except (ValueError, IndexError):
            raise ValidationFailed.single(
                f"row {n}", "lon_lat", "each row starts lon,lat"
            ) from None
    found = app.services().locations.locate_many(operator(), lons, lats)
    writer = csv.writer(sys.stdout)
    writer.writerow([*header, "grid_id", "community", "street", "district"])
    for row, location in zip(rows, found, strict=True):
        writer.writerow(
            [
                *row,
                location.grid_id or "",
                location.community.code if location.community else "",
                location.street.code if location.street else "",
                location.district.code if location.district else "",
            ]
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@geo.command("duty")
@click.argument("grid_code")
@pass_app
@handle_errors
def duty(app: AppContext, grid_code: str) -> None:
    """Print a grid's workers and responsible units as JSON."""
    found = app.services().responsibility.get(operator(), grid_code)
    click.echo(json.dumps(found.as_json(), ensure_ascii=False))


@geo.command("assign-worker")
@click.argument("grid_code")
@click.argument("username")
@click.option("--remove", is_flag=True, help="Unassign instead.")
@pass_app
@handle_errors
def assign_worker(app: AppContext, grid_code: str, username: str, remove: bool) -> None:
    """Assign USERNAME (a patroller) as a worker of GRID_CODE."""
    found = app.services().responsibility.assign_worker(
        operator(), grid_code, username, remove=remove
    )
    click.echo(json.dumps(found.as_json(), ensure_ascii=False))


@geo.command("set-unit")
@click.argument("grid_code")
@click.option("--matter", "matter_code", help="A GB/T 47678.5 matter class code.")
@click.option("--department", "department_code", help="A department code.")
@click.option("--unit", "unit_code", help="The responsible unit (department code).")
@click.option("--clear", is_flag=True, help="Remove the assignment.")
@pass_app
@handle_errors
def set_unit(
    app: AppContext,
    grid_code: str,
    matter_code: str | None,
    department_code: str | None,
    unit_code: str | None,
    clear: bool,
) -> None:
    """Set the unit responsible in GRID_CODE for a matter class or a department."""
    if (matter_code is None) == (department_code is None):
        raise ValidationFailed.single("--matter/--department", "exactly_one", "give one of them")
    if (unit_code is None) != clear:
        raise ValidationFailed.single("--unit", "required", "give --unit, or --clear")
    key_kind, key = ("matter", matter_code) if matter_code else ("department", department_code)
    assert key is not None
    found = app.services().responsibility.set_unit(
        operator(), grid_code, key_kind=key_kind, key=key, unit_code=unit_code
    )
    click.echo(json.dumps(found.as_json(), ensure_ascii=False))
