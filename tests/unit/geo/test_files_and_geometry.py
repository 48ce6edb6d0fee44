"""Reading division files (GeoJSON, Shapefile, GeoPackage) and the geometry checks and measures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from cityops.geo.files import PropertyMapping, read_file, read_geojson
from cityops.geo.geometry import (
    area_m2,
    checksum,
    distance_m,
    from_geojson,
    geometry_problem,
    to_geojson,
)
from cityops.kernel.errors import ValidationFailed

SQUARE = shapely.box(121.4705, 31.2304, 121.4715, 31.2314)


def _rule(error: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, str]:
    issue = error.value.issues[0]
    return issue.field, issue.rule


def feature(props: dict[str, object], geometry: object = None) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": shapely.geometry.mapping(SQUARE) if geometry is None else geometry,
    }


# -- PropertyMapping ----------------------------------------------------------------------------


def test_mapping_defaults() -> None:
    assert PropertyMapping.parse(None) == PropertyMapping("code", "name", "parent_code")
    assert PropertyMapping.parse("") == PropertyMapping()


def test_mapping_parse_all_and_subsets() -> None:
    assert PropertyMapping.parse("code=GRID_ID,name=NAME,parent=COMM_ID") == PropertyMapping(
        "GRID_ID", "NAME", "COMM_ID"
    )
    assert PropertyMapping.parse(" name = 网格名称 ") == PropertyMapping(
        "code", "网格名称", "parent_code"
    )
    assert PropertyMapping.parse("parent=P") == PropertyMapping("code", "name", "P")


@pytest.mark.parametrize("text", ["code", "code=", "colour=red", "code=A,,name=B", "=A", "code:A"])
def test_mapping_parse_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        PropertyMapping.parse(text)
    assert _rule(error) == ("mapping", "mapping_format")


# -- GeoJSON ------------------------------------------------------------------------------------


def test_read_geojson_with_a_custom_mapping() -> None:
    data = {
        "type": "FeatureCollection",
        "features": [
            feature({"GRID_ID": "310101002001001", "NAME": " 第1网格 ", "COMM_ID": 310101002001}),
            feature(
                {
                    "GRID_ID": "310101002001002",
                    "NAME": "第2网格",
                    "COMM_ID": "310101002001",
                    "code": "ignored",
                }
            ),
            feature({"GRID_ID": 310101002001003.0, "COMM_ID": None}, geometry=None),
        ],
    }
    data["features"][2]["geometry"] = None  # type: ignore[index]
    inputs, issues = read_geojson(
        data, PropertyMapping.parse("code=GRID_ID,name=NAME,parent=COMM_ID")
    )
    assert issues == []
    assert [i.index for i in inputs] == [0, 1, 2]
    assert [i.code for i in inputs] == ["310101002001001", "310101002001002", "310101002001003"]
    assert [i.name for i in inputs] == ["第1网格", "第2网格", ""]
    assert [i.parent_code for i in inputs] == ["310101002001", "310101002001", None]
    assert shapely.equals(inputs[0].geometry, SQUARE)
    assert inputs[2].geometry is None


def test_read_geojson_reports_each_bad_feature_and_keeps_the_good() -> None:
    data = {
        "type": "FeatureCollection",
        "features": [
            feature({"code": "310101002001001", "name": "a", "parent_code": "310101002001"}),
            {"type": "Polygon", "coordinates": []},
            "not even an object",
            feature({"name": "no code"}),
            feature({"code": "   ", "name": "blank code"}),
            feature(
                {"code": "310101002001005", "name": "e"},
                geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]},
            ),
            feature({"code": "310101002001006", "name": "f"}, geometry={"coordinates": []}),
            feature(
                {"code": "310101002001007", "name": "g"}, geometry="POLYGON((0 0,1 0,1 1,0 0))"
            ),
            {"type": "Feature", "properties": ["a"], "geometry": None},
            feature({"code": "310101002001009", "name": "ok"}),
        ],
    }
    inputs, issues = read_geojson(data, PropertyMapping())
    assert [i.index for i in inputs] == [0, 9]
    assert [(i.index, i.code, i.field, i.rule) for i in issues] == [
        (1, None, "feature", "feature_type"),
        (2, None, "feature", "feature_type"),
        (3, None, "code", "required"),
        (4, None, "code", "required"),
        (5, "310101002001005", "geometry", "geometry_format"),
        (6, "310101002001006", "geometry", "geometry_format"),
        (7, "310101002001007", "geometry", "geometry_format"),
        (8, None, "properties", "object"),
    ]
    assert all(i.message for i in issues)
    assert "features[5].geometry (310101002001005):" in str(issues[4])
    assert str(issues[4]).endswith("(rule: geometry_format)")


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Circle", "coordinates": [121.47, 31.23]},
        {"type": "Polygon", "coordinates": "121.47,31.23"},
        {"type": "Polygon", "coordinates": [[[0, 0], [1]]]},
        {"type": "MultiPolygon", "coordinates": [[1]]},
        {"type": "Polygon", "coordinates": [[["a", "b"], [1, 0], [1, 1], [0, 0]]]},
        {"type": "Polygon"},
    ],
)
def test_malformed_geometry_is_an_issue_not_a_crash(geometry: dict[str, object]) -> None:
    data = {
        "type": "FeatureCollection",
        "features": [feature({"code": "310101002001001"}, geometry)],
    }
    inputs, issues = read_geojson(data, PropertyMapping())
    assert inputs == []
    assert [(i.index, i.field, i.rule) for i in issues] == [(0, "geometry", "geometry_format")]


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"type": "Feature", "properties": {}, "geometry": None}, "file", "feature_collection"),
        ([], "file", "feature_collection"),
        ("FeatureCollection", "file", "feature_collection"),
        ({"features": []}, "file", "feature_collection"),
        ({"type": "FeatureCollection"}, "features", "array"),
        ({"type": "FeatureCollection", "features": {"a": 1}}, "features", "array"),
    ],
)
def test_not_a_feature_collection(data: object, field: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        read_geojson(data, PropertyMapping())
    assert _rule(error) == (field, rule)


@pytest.mark.parametrize(
    "name",
    ["urn:ogc:def:crs:EPSG::3857", "EPSG:32651", "urn:ogc:def:crs:EPSG::4547", ""],
)
def test_a_projected_crs_member_is_refused(name: str) -> None:
    data = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": name}},
        "features": [feature({"code": "310101"})],
    }
    with pytest.raises(ValidationFailed) as error:
        read_geojson(data, PropertyMapping())
    assert _rule(error) == ("crs", "geographic_crs")


@pytest.mark.parametrize(
    "name",
    ["urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4490", "EPSG:4326"],
)
def test_a_geographic_crs_member_is_accepted(name: str) -> None:
    data = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": name}},
        "features": [feature({"code": "310101", "name": "黄浦区"})],
    }
    inputs, issues = read_geojson(data, PropertyMapping())
    assert [i.code for i in inputs] == ["310101"]
    assert issues == []


def test_read_file_geojson_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "grids.geojson"
    good.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [feature({"code": "310101", "name": "黄浦区"})],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    inputs, issues = read_file(good, PropertyMapping())
    assert [(i.code, i.name) for i in inputs] == [("310101", "黄浦区")]
    assert issues == []

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationFailed) as error:
        read_file(broken, PropertyMapping())
    assert _rule(error) == ("file", "json")

    latin = tmp_path / "latin.geojson"
    latin.write_bytes(b'{"name": "\xe9"}')
    with pytest.raises(ValidationFailed) as error:
        read_file(latin, PropertyMapping())
    assert _rule(error) == ("file", "json")

    other = tmp_path / "grids.kml"
    other.write_text("<kml/>", encoding="utf-8")
    with pytest.raises(ValidationFailed) as error:
        read_file(other, PropertyMapping())
    assert _rule(error) == ("file", "file_type")

    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"not a geopackage")
    with pytest.raises(ValidationFailed) as error:
        read_file(garbage, PropertyMapping())
    assert _rule(error) == ("file", "readable")


# -- Shapefile and GeoPackage -------------------------------------------------------------------

POLYGONS = [
    shapely.box(121.47, 31.23, 121.471, 31.231),
    shapely.box(121.471, 31.23, 121.472, 31.231),
]


def write_layer(path: Path, driver: str, crs: str = "EPSG:4326", polygons=POLYGONS) -> None:
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(p) for p in polygons], dtype=object),
        field_data=[
            np.array(["310101002001001", "310101002001002"], dtype=object),
            np.array(["外滩第1网格", "外滩第2网格"], dtype=object),
            np.array([310101002001, 310101002001], dtype=np.int64),
        ],
        fields=["GRID_ID", "GRID_NAME", "COMM"],
        crs=crs,
        geometry_type="Polygon",
        driver=driver,
    )


@pytest.mark.parametrize(("suffix", "driver"), [(".shp", "ESRI Shapefile"), (".gpkg", "GPKG")])
@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490"])
def test_read_shapefile_and_geopackage(tmp_path: Path, suffix: str, driver: str, crs: str) -> None:
    path = tmp_path / f"grids{suffix}"
    write_layer(path, driver, crs)
    inputs, issues = read_file(
        path, PropertyMapping.parse("code=GRID_ID,name=GRID_NAME,parent=COMM")
    )
    assert issues == []
    assert [(i.index, i.code, i.name, i.parent_code) for i in inputs] == [
        (0, "310101002001001", "外滩第1网格", "310101002001"),
        (1, "310101002001002", "外滩第2网格", "310101002001"),
    ]
    for item, polygon in zip(inputs, POLYGONS, strict=True):
        assert item.geometry is not None
        assert shapely.equals(item.geometry, polygon)


@pytest.mark.parametrize(("suffix", "driver"), [(".shp", "ESRI Shapefile"), (".gpkg", "GPKG")])
def test_a_file_in_web_mercator_is_refused(tmp_path: Path, suffix: str, driver: str) -> None:
    path = tmp_path / f"mercator{suffix}"
    projected = [
        shapely.box(13522000, 3662000, 13522100, 3662100),
        shapely.box(13522100, 3662000, 13522200, 3662100),
    ]
    write_layer(path, driver, "EPSG:3857", projected)
    with pytest.raises(ValidationFailed) as error:
        read_file(path, PropertyMapping.parse("code=GRID_ID,name=GRID_NAME,parent=COMM"))
    assert _rule(error) == ("crs", "geographic_crs")


def test_a_missing_code_in_a_geopackage_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "grids.gpkg"
    write_layer(path, "GPKG")
    inputs, issues = read_file(path, PropertyMapping.parse("code=NOPE"))
    assert inputs == []
    assert [(i.index, i.field, i.rule) for i in issues] == [
        (0, "NOPE", "required"),
        (1, "NOPE", "required"),
    ]


# -- geometry checks ----------------------------------------------------------------------------

BOW_TIE = Polygon([(121.47, 31.23), (121.471, 31.231), (121.471, 31.23), (121.47, 31.231)])


@pytest.mark.parametrize(
    ("geometry", "rule"),
    [
        (None, "geometry_required"),
        (Point(121.47, 31.23), "geometry_type"),
        (shapely.LineString([(121.47, 31.23), (121.48, 31.23)]), "geometry_type"),
        (shapely.GeometryCollection([SQUARE]), "geometry_type"),
        (Polygon(), "geometry_empty"),
        (MultiPolygon(), "geometry_empty"),
        (BOW_TIE, "geometry_invalid"),
        (shapely.box(181, 31, 182, 32), "coordinates_range"),
        (shapely.box(121, 89.5, 122, 90.5), "coordinates_range"),
        (shapely.box(-180.5, 0, -179.5, 1), "coordinates_range"),
        (shapely.box(2_000_000, 3_000_000, 2_000_100, 3_000_100), "coordinates_range"),
    ],
)
def test_geometry_problem(geometry, rule: str) -> None:
    problem = geometry_problem(geometry)
    assert problem is not None
    assert problem[0] == rule
    assert problem[1]


def test_a_bow_tie_is_reported_with_the_reason_and_not_repaired() -> None:
    original = shapely.to_wkb(BOW_TIE)
    rule, message = geometry_problem(BOW_TIE)  # type: ignore[misc]
    assert rule == "geometry_invalid"
    assert "Self-intersection" in message
    assert shapely.to_wkb(BOW_TIE) == original
    assert not BOW_TIE.is_valid


@pytest.mark.parametrize(
    "geometry",
    [
        SQUARE,
        MultiPolygon([SQUARE, shapely.box(121.48, 31.23, 121.49, 31.24)]),
        Polygon(SQUARE.buffer(0.002).exterior.coords, [SQUARE.exterior.coords]),
        shapely.box(-180, -90, 180, 90),
    ],
)
def test_good_geometries_have_no_problem(geometry) -> None:
    assert geometry_problem(geometry) is None


def test_area_of_a_small_square_near_shanghai() -> None:
    lat = 31.2
    square = shapely.box(121.47, lat, 121.471, lat + 0.001)
    # The brief's figures: about 111.3 m × 95.2 m.
    assert area_m2(square) == pytest.approx(111.3 * 95.2, rel=0.005)
    # And an independent ellipsoidal estimate (WGS-84 radii of curvature at the middle).
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = math.radians(lat + 0.0005)
    w = math.sqrt(1 - e2 * math.sin(phi) ** 2)
    meridian = a * (1 - e2) / w**3
    prime = a / w
    expected = (meridian * math.radians(0.001)) * (prime * math.cos(phi) * math.radians(0.001))
    assert area_m2(square) == pytest.approx(expected, rel=1e-4)
    # Orientation does not matter.
    assert area_m2(shapely.geometry.polygon.orient(square, -1)) == pytest.approx(area_m2(square))


def test_distance() -> None:
    assert distance_m(121.47, 31.2, 121.47, 31.201) == pytest.approx(110.86, rel=1e-3)
    assert distance_m(121.47, 31.2, 121.47, 31.2) == 0


COORD_NOISE = st.floats(-9e-9, 9e-9, allow_nan=False)


@given(st.lists(st.tuples(COORD_NOISE, COORD_NOISE), min_size=5, max_size=5))
def test_checksum_ignores_noise_below_1e8_degrees(noise: list[tuple[float, float]]) -> None:
    coords = list(SQUARE.exterior.coords)
    noisy = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(coords, noise, strict=True)]
    noisy[-1] = noisy[0]
    assert checksum(Polygon(noisy), "第1网格", "310101002001") == checksum(
        SQUARE, "第1网格", "310101002001"
    )


def test_checksum_ignores_ring_start_and_orientation() -> None:
    coords = list(SQUARE.exterior.coords)[:-1]
    rotated = Polygon(coords[2:] + coords[:2])
    reversed_ring = Polygon(list(reversed(coords)))
    assert (
        checksum(rotated, "a", None)
        == checksum(SQUARE, "a", None)
        == checksum(reversed_ring, "a", None)
    )


def test_checksum_changes_with_name_parent_and_shape() -> None:
    base = checksum(SQUARE, "第1网格", "310101002001")
    assert checksum(SQUARE, "第2网格", "310101002001") != base
    assert checksum(SQUARE, "第1网格", "310101002002") != base
    assert checksum(SQUARE, "第1网格", None) != base
    moved = shapely.affinity.translate(SQUARE, 2e-7, 0)
    assert checksum(moved, "第1网格", "310101002001") != base
    # The parts are separated: ("ab", "c") differs from ("a", "bc").
    assert checksum(SQUARE, "ab", "c") != checksum(SQUARE, "a", "bc")


def test_geojson_round_trip_rounds_to_seven_decimals() -> None:
    precise = shapely.box(121.123456789, 31.0, 121.2, 31.1)
    data = to_geojson(precise)
    assert data["type"] == "Polygon"
    assert 121.1234568 in [c[0] for c in data["coordinates"][0]]
    back = from_geojson(data)
    assert shapely.equals(back, shapely.box(121.1234568, 31.0, 121.2, 31.1))
    with pytest.raises(ValueError, match="not a GeoJSON geometry"):
        from_geojson([1, 2])
    with pytest.raises(ValueError, match="not a GeoJSON geometry"):
        from_geojson({"coordinates": []})
