"""Generated street furniture and places of the demo district: components, addresses, POIs.

All of it is generated (deterministically) along the demo's generated roads: street lights,
manhole covers, litter bins, traffic signs and signals as GB/T 47678.5 components with 17-digit
ids; house numbers every 50 m; community offices, street offices, clinics, markets, schools
and metro stations as points of interest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from cityops.demo.city import DemoCity, points_along

# (class code, name, spacing along roads in metres, offset, 主管部门 code and name)
_ALONG_ROADS: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("01037", "路灯", 40.0, 5.0, "SZ", "市政设施管理处（市政）"),
    ("01002", "污水井盖", 90.0, 20.0, "SW", "水务局"),
    ("01003", "雨水井盖", 90.0, 65.0, "SW", "水务局"),
    ("01001", "供水井盖", 180.0, 40.0, "SW", "水务局"),
    ("01005", "电力井盖", 180.0, 130.0, "SZ", "市政设施管理处（市政）"),
    ("01007", "通信井盖", 240.0, 100.0, "SZ", "市政设施管理处（市政）"),
    ("03005", "垃圾箱", 80.0, 30.0, "HWS", "环境卫生管理处（环卫）"),
    ("02012", "路名牌", 300.0, 15.0, "JJ", "公安交通警察大队（交警）"),
)
_AT_CROSSINGS: tuple[tuple[str, str, str, str], ...] = (
    ("02014", "交通信号灯", "JJ", "公安交通警察大队（交警）"),
    ("02010", "交通标志牌及标线", "JJ", "公安交通警察大队（交警）"),
)
_STATUSES = ("完好",) * 18 + ("破损", "丢失")
_SIDE_M = 8.0


def _offset(point: Point, line: LineString, metres: float, m_per_deg_lon: float) -> Point:
    """Move a point sideways off the road's centre line (to the kerb)."""
    (x1, y1), (x2, y2) = line.coords[0], line.coords[-1]
    vertical = abs(x2 - x1) < abs(y2 - y1)
    if vertical:
        return Point(point.x + metres / m_per_deg_lon, point.y)
    return Point(point.x, point.y + metres / 111_320.0)


def crossings(city: DemoCity) -> list[tuple[str, str, Point]]:
    """Return every pair of roads that cross, with the crossing point."""
    names = sorted(city.roads)
    found = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            meet = shapely.intersection(city.roads[first], city.roads[second])
            if isinstance(meet, Point):
                found.append((first, second, meet))
    return found


def component_rows(city: DemoCity) -> list[dict[str, Any]]:
    """Return a few thousand component rows with GB/T 47678.5 表2 attributes."""
    rng = np.random.default_rng(47678)
    sequence: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    district = city.district.code

    def add(class_code: str, name: str, dept: str, dept_name: str, point: Point) -> None:
        sequence[class_code] = sequence.get(class_code, 0) + 1
        year = int(rng.integers(2008, 2025))
        status = _STATUSES[int(rng.integers(0, len(_STATUSES)))]
        rows.append(
            {
                "id": f"{district}{class_code}{sequence[class_code]:06d}",
                "name": name,
                "department_code": dept,
                "department_name": dept_name,
                "maintainer_code": dept,
                "maintainer_name": dept_name,
                "status": status,
                "initial_date": date(year, int(rng.integers(1, 13)), 1).isoformat(),
                "change_date": "2026-06-30" if status != "完好" else None,
                "data_source": "实测",
                "lon": round(point.x, 7),
                "lat": round(point.y, 7),
            }
        )

    for road_name in sorted(city.roads):
        line = city.roads[road_name]
        for class_code, name, spacing, offset, dept, dept_name in _ALONG_ROADS:
            side = _SIDE_M if class_code[:2] != "01" or class_code == "01037" else -3.0
            for point in points_along(line, spacing, city.metres_per_degree_lon, offset):
                add(
                    class_code,
                    name,
                    dept,
                    dept_name,
                    _offset(point, line, side, city.metres_per_degree_lon),
                )
    for _first, _second, point in crossings(city):
        for class_code, name, dept, dept_name in _AT_CROSSINGS:
            add(class_code, name, dept, dept_name, point)
    return rows


def place_rows(city: DemoCity) -> list[dict[str, Any]]:
    """Return roads, house numbers and points of interest for the gazetteer."""
    rows: list[dict[str, Any]] = []
    for name in sorted(city.roads):
        line = city.roads[name]
        rows.append(
            {
                "kind": "road",
                "name": name,
                "key": f"road:{name}",
                "geometry": shapely.geometry.mapping(line),
            }
        )
        for n, point in enumerate(points_along(line, 50.0, city.metres_per_degree_lon), start=0):
            for side, number in ((1, 2 * n + 1), (-1, 2 * n + 2)):
                kerb = _offset(point, line, side * 12.0, city.metres_per_degree_lon)
                rows.append(
                    {
                        "kind": "address",
                        "name": f"{name}{number}号",
                        "key": f"addr:{name}:{number}",
                        "lon": round(kerb.x, 7),
                        "lat": round(kerb.y, 7),
                    }
                )
    rows.extend(_pois(city))
    return rows


def _pois(city: DemoCity) -> Iterator[dict[str, Any]]:
    for street in city.streets:
        assert street.geometry is not None
        centre = street.geometry.representative_point()
        short = street.name.removesuffix("街道")
        yield _poi(f"{street.name}办事处", f"poi:office:{street.code}", centre, (f"{short}街道办",))
        clinic = _nudge(centre, 150.0, 0.0, city)
        yield _poi(
            f"{street.name}社区卫生服务中心",
            f"poi:clinic:{street.code}",
            clinic,
            (f"{short}社区医院",),
        )
        yield _poi(f"{short}菜市场", f"poi:market:{street.code}", _nudge(centre, -120, 90, city))
        yield _poi(
            f"黄浦区{short}小学", f"poi:school:{street.code}", _nudge(centre, 60, -160, city)
        )
    for community in city.communities:
        assert community.geometry is not None
        yield _poi(
            community.name,
            f"poi:community:{community.code}",
            community.geometry.representative_point(),
            (community.name.removesuffix("居委会") + "社区",),
        )
    stations: set[str] = set()
    for first, second, point in crossings(city)[::4]:
        station = f"{first}站"
        if station in stations:
            continue
        stations.add(station)
        yield _poi(
            f"地铁{station}", f"poi:metro:{first}:{second}", _nudge(point, 20, 20, city), (station,)
        )


def _poi(name: str, key: str, point: Point, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "kind": "poi",
        "name": name,
        "key": key,
        "lon": round(point.x, 7),
        "lat": round(point.y, 7),
        "aliases": "|".join(aliases),
    }


def _nudge(point: Point, east_m: float, north_m: float, city: DemoCity) -> Point:
    return Point(point.x + east_m / city.metres_per_degree_lon, point.y + north_m / 111_320.0)
