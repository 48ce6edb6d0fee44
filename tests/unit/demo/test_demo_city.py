"""The generated demo district (上海市黄浦区, 310101): real codes, exact nesting, ~1 ha grids."""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources

import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from cityops.catalog.components import component_from_row
from cityops.catalog.reference import component_classes
from cityops.demo.city import GRID_METRES, DemoCity, generate
from cityops.demo.furniture import component_rows, place_rows
from cityops.geo.geometry import area_m2, planar_area_m2
from cityops.geo.model import DivisionInput
from cityops.geo.places import place_from_row

M_PER_DEG = 111_320.0
DISTRICT = "310101"


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate()


@pytest.fixture(scope="module")
def vendored() -> list[dict[str, str]]:
    """The street and community rows of the vendored CSV, read here independently."""
    text = (
        resources.files("cityops.demo")
        .joinpath("data/huangpu-310101-divisions.csv")
        .read_text(encoding="utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


def flat_m2(geometry: BaseGeometry, lat: float = 31.22) -> float:
    """Area in m² on a flat projection at the district's latitude (empty → 0)."""
    if geometry.is_empty:
        return 0.0
    return float(geometry.area) * M_PER_DEG**2 * math.cos(math.radians(lat))


def assert_partition(parent: BaseGeometry, children: Sequence[BaseGeometry], what: str) -> None:
    """The children cover the parent (within 1 m²) and overlap each other by less than 1 m²."""
    assert children, what
    union = shapely.union_all(list(children))
    assert flat_m2(shapely.symmetric_difference(union, parent)) < 1.0, what
    tree = shapely.STRtree(list(children))
    left, right = tree.query(list(children), predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            overlap = flat_m2(shapely.intersection(children[i], children[j]))
            assert overlap < 1.0, (what, i, j, overlap)


def by_parent(items: list[DivisionInput]) -> dict[str, list[DivisionInput]]:
    grouped: dict[str, list[DivisionInput]] = defaultdict(list)
    for item in items:
        assert item.parent_code is not None
        grouped[item.parent_code].append(item)
    return grouped


# -- determinism and real codes -----------------------------------------------------------------


def test_generate_is_deterministic(city: DemoCity) -> None:
    again = generate()
    first, second = city.divisions(), again.divisions()
    assert [d.code for d in first] == [d.code for d in second]
    assert [d.name for d in first] == [d.name for d in second]
    assert [d.parent_code for d in first] == [d.parent_code for d in second]
    assert [shapely.to_wkb(d.geometry) for d in first] == [
        shapely.to_wkb(d.geometry) for d in second
    ]
    assert sorted(city.roads) == sorted(again.roads)
    assert all(shapely.equals_exact(city.roads[n], again.roads[n], 0) for n in city.roads)
    assert component_rows(city) == component_rows(again)
    assert place_rows(city) == place_rows(again)


def test_the_district_is_huangpu(city: DemoCity) -> None:
    assert city.district.code == DISTRICT
    assert city.district.name == "黄浦区"
    area = area_m2(city.district.geometry)
    assert 19e6 < area < 22.5e6  # 20.7 km² (docs/geography.md)


def test_the_real_codes_of_310101_are_used(city: DemoCity, vendored: list[dict[str, str]]) -> None:
    streets = {r["code"]: r for r in vendored if r["level"] == "street"}
    communities = {r["code"]: r for r in vendored if r["level"] == "community"}
    assert len(streets) == 10
    assert len(communities) == 170
    assert len(city.streets) == 10
    assert len(city.communities) == 170
    assert {s.code: s.name for s in city.streets} == {c: r["name"] for c, r in streets.items()}
    assert {s.parent_code for s in city.streets} == {DISTRICT}
    assert {c.code: (c.name, c.parent_code) for c in city.communities} == {
        code: (r["name"], r["parent_code"]) for code, r in communities.items()
    }
    assert all(re.fullmatch(r"310101\d{3}", code) for code in streets)
    assert all(code.startswith(r["parent_code"]) for code, r in communities.items())
    assert city.street_names == {c: r["name"] for c, r in streets.items()}


def test_codes_are_unique_and_nest(city: DemoCity) -> None:
    codes = [d.code for d in city.divisions()]
    assert len(codes) == len(set(codes))
    for d in [*city.streets, *city.communities, *city.grids]:
        assert d.parent_code is not None
        assert d.code.startswith(d.parent_code)


# -- geometry -----------------------------------------------------------------------------------


def test_every_polygon_is_valid(city: DemoCity) -> None:
    for d in city.divisions():
        assert d.geometry is not None, d.code
        assert d.geometry.geom_type in ("Polygon", "MultiPolygon"), d.code
        assert not d.geometry.is_empty, d.code
        assert shapely.is_valid(d.geometry), (d.code, shapely.is_valid_reason(d.geometry))


def test_streets_partition_the_district(city: DemoCity) -> None:
    assert_partition(city.district.geometry, [s.geometry for s in city.streets], DISTRICT)


def test_communities_partition_their_street(city: DemoCity) -> None:
    communities = by_parent(city.communities)
    assert sorted(communities) == sorted(s.code for s in city.streets)
    for street in city.streets:
        assert_partition(
            street.geometry, [c.geometry for c in communities[street.code]], street.code
        )


def test_grids_partition_their_community(city: DemoCity) -> None:
    grids = by_parent(city.grids)
    assert sorted(grids) == sorted(c.code for c in city.communities)
    for community in city.communities:
        assert_partition(
            community.geometry, [g.geometry for g in grids[community.code]], community.code
        )


def test_grid_count_and_size(city: DemoCity) -> None:
    assert 1800 <= len(city.grids) <= 2600
    areas = [area_m2(g.geometry) for g in city.grids]
    assert 7_000 <= statistics.median(areas) <= 13_000  # 0.7–1.3 ha
    # The flat and the geodesic measures agree at this size.
    sample = city.grids[0].geometry
    assert planar_area_m2(sample) == pytest.approx(area_m2(sample), rel=0.01)


# -- grid ids -----------------------------------------------------------------------------------


def test_grid_ids_are_the_community_code_and_a_sequence(city: DemoCity) -> None:
    for community, grids in by_parent(city.grids).items():
        codes = sorted(g.code for g in grids)
        assert all(re.fullmatch(r"\d{15}", c) for c in codes)
        assert codes == [f"{community}{n:03d}" for n in range(1, len(codes) + 1)], community


def _lattice(city: DemoCity) -> tuple[float, float, float, float]:
    min_x, min_y, _max_x, _max_y = city.district.geometry.bounds
    return min_x, min_y, GRID_METRES / city.metres_per_degree_lon, GRID_METRES / M_PER_DEG


def test_grids_are_numbered_west_to_east_then_north_to_south(city: DemoCity) -> None:
    x0, y0, dx, dy = _lattice(city)
    grids = by_parent(city.grids)
    # One community, by the representative points of its whole (uncut, unmerged) cells: row by
    # row from the north, west to east within a row.
    community = max(grids, key=lambda code: len(grids[code]))
    cells = []
    for grid in sorted(grids[community], key=lambda g: g.code):
        if (
            grid.geometry.geom_type == "Polygon"
            and abs(grid.geometry.area * M_PER_DEG * city.metres_per_degree_lon - GRID_METRES**2)
            < 1
            and len(grid.geometry.exterior.coords) == 5
        ):
            point = grid.geometry.representative_point()
            cells.append((grid.code, math.floor((point.y - y0) / dy), point.x))
    assert len(cells) >= 10
    rows = [row for _code, row, _x in cells]
    assert rows == sorted(rows, reverse=True)
    assert len(set(rows)) >= 2
    for row in set(rows):
        xs = [x for _code, r, x in cells if r == row]
        assert xs == sorted(xs)
    # Every community: each grid's lattice cell (the one holding most of it, after slivers were
    # merged) follows the same order.
    for code, members in grids.items():
        order = []
        for grid in sorted(members, key=lambda g: g.code):
            min_x, min_y, max_x, max_y = grid.geometry.bounds
            best = max(
                (
                    shapely.intersection(
                        grid.geometry,
                        shapely.box(x0 + c * dx, y0 + r * dy, x0 + (c + 1) * dx, y0 + (r + 1) * dy),
                    ).area,
                    -r,
                    c,
                )
                for r in range(math.floor((min_y - y0) / dy), math.floor((max_y - y0) / dy) + 1)
                for c in range(math.floor((min_x - x0) / dx), math.floor((max_x - x0) / dx) + 1)
            )
            order.append(best[1:])
        assert order == sorted(order), code


def test_grid_names_follow_the_community(city: DemoCity) -> None:
    names = {c.code: c.name for c in city.communities}
    for grid in city.grids[:50]:
        assert grid.parent_code is not None
        sequence = int(grid.code[-3:])
        assert grid.name == f"{names[grid.parent_code].removesuffix('居委会')}第{sequence}网格"


# -- furniture and places -----------------------------------------------------------------------


def test_components(city: DemoCity) -> None:
    rows = component_rows(city)
    assert 2_000 <= len(rows) <= 20_000
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"\d{17}", i) for i in ids)
    assert {i[:6] for i in ids} == {DISTRICT}
    classes = component_classes()
    assert {i[6:11] for i in ids} <= set(classes)
    assert len({i[6:11] for i in ids}) >= 5
    for index, row in enumerate(rows, start=1):
        component, issues = component_from_row(row, index)
        assert issues == [], issues
        assert component is not None
    district = city.district.geometry
    inside = sum(shapely.contains_xy(district, r["lon"], r["lat"]) for r in rows)
    assert inside >= 0.95 * len(rows)


def test_places(city: DemoCity) -> None:
    rows = place_rows(city)
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys))
    assert all(0 < len(k) <= 64 for k in keys)
    assert {r["kind"] for r in rows} == {"road", "address", "poi"}
    roads = {r["name"] for r in rows if r["kind"] == "road"}
    assert roads == set(city.roads)
    assert len(city.roads) >= 10
    addresses = defaultdict(list)
    for r in rows:
        if r["kind"] == "address":
            match = re.fullmatch(r"(.+?)(\d+)号", r["name"])
            assert match, r["name"]
            addresses[match.group(1)].append(int(match.group(2)))
    for road in city.roads:
        assert addresses[road], road
        assert len(addresses[road]) == len(set(addresses[road])), road
    for index, row in enumerate(rows, start=1):
        place, issues = place_from_row(row, index)
        assert issues == [], issues
        assert place is not None
