"""The demo city's sensors, and a month of their history.

Why: the monitoring views, the city indices and the alert rules need devices that stand where a
district would have them and readings to look back on. The inventory is generated from the demo
city (deterministically, from a seed) so every point falls inside a grid of 黄浦区:

* 12 air-quality stations, one per street and two more (人民广场, 新天地), some with temperature
  and humidity;
* 15 noise monitors, each with its GB 3096 zone: 4a by the trunk roads, 2 at shopping streets,
  1 among homes;
* 6 water stations on 黄浦江 and 苏州河 (GB 3838 class III targets) at the ends of the roads;
* 40 manhole-cover sensors on real demo rain-water covers (their component ids), in 10 groups of
  4 neighbours, so a flood shows at several covers;
* 20 traffic detectors on road links between crossings (road classes of the DB11/T 785 profile);
* 2 weather stations and 6 building meters (electricity, water, gas).

:func:`load_history` stores a month of simulated readings (:mod:`cityops.sensing.simulate`) at a
coarser step than live devices report, to keep ``cityops demo load`` quick, with a pollution and
a flooding episode in it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any, Protocol

import shapely
from shapely.geometry import LineString, Point

from cityops.auth.model import Principal
from cityops.demo.city import DemoCity, generate
from cityops.demo.furniture import component_rows, crossings
from cityops.sensing.decode import MAX_BATCH
from cityops.sensing.devices import DeviceService
from cityops.sensing.ingest import IngestService
from cityops.sensing.model import ObservationBatch
from cityops.sensing.rollups import RollupFolder
from cityops.sensing.simulate import Episode, SimStream, Simulation

SEED = 2026
HISTORY_DAYS = 30
# Air stations report a 10-minute mean (as micro-stations do; national stations report hourly):
# six of them make a valid hourly mean (≥ 45 min covered), in the live feed and in history.
INTERVALS = {"air": 600, "noise": 60, "water": 300, "manhole": 60, "traffic": 60}
INTERVALS |= {"weather": 60, "meter": 900}
# History is coarser than live reporting: a month at 1-minute steps would be 15 million rows.
HISTORY_STEPS = {"air": 600, "noise": 600, "manhole": 600, "traffic": 600, "weather": 600}
HISTORY_STEPS |= {"water": 1800, "meter": 3600}
AIR = ("pm25", "pm10", "so2", "no2", "o3", "co")
WATER = ("ph", "do", "codmn", "nh3n", "tp", "turbidity", "water_level")
TRAFFIC = ("traffic_speed", "traffic_flow", "traffic_occupancy")
WEATHER = ("wind_speed", "wind_direction", "temperature", "humidity", "rainfall")
ROAD_CLASSES = {"延安东路": "expressway", "重庆南路": "expressway"} | {
    road: "arterial"
    for road in ("西藏中路", "人民路", "中山东一路", "河南中路", "北京东路", "复兴东路", "淮海中路")
}
_M_PER_DEG_LAT = 111_320.0
_AIR_EXTRA = (("南京东路街道", "人民广场空气站"), ("淮海中路街道", "新天地空气站"))
_AIR_NAMES = {"小东门街道": "十六铺空气站"}
_SHOPS = (
    ("外滩街道", "外滩"),
    ("南京东路街道", "南京路步行街"),
    ("豫园街道", "豫园商城"),
    ("淮海中路街道", "新天地"),
)
_HOMES = ("半淞园路街道", "老西门街道", "五里桥街道", "打浦桥街道", "瑞金二路街道", "小东门街道")
_TRUNK = ("西藏中路", "延安东路", "人民路", "中山东一路", "河南中路")
# (road, which end, river, station name): the district's east and south edges are 黄浦江, the
# north edge 苏州河, so a road's end there is the riverbank.
_RIVER = (
    ("金陵东路", "east", "黄浦江", "黄浦江外滩水质站"),
    ("人民路", "east", "黄浦江", "黄浦江十六铺水质站"),
    ("方浜中路", "east", "黄浦江", "黄浦江董家渡水质站"),
    ("云南中路", "south", "黄浦江", "黄浦江南浦大桥水质站"),
    ("河南中路", "north", "苏州河", "苏州河河南路桥水质站"),
    ("福建中路", "north", "苏州河", "苏州河福建路桥水质站"),
)
_LINKS = (("延安东路", 5), ("西藏中路", 5), ("人民路", 4), ("河南中路", 3), ("福州路", 3))
_METERS = (
    ("electricity_meter", "南京东路街道", "城运中心大楼", "电表"),
    ("electricity_meter", "外滩街道", "黄浦区政府大楼", "电表"),
    ("water_meter", "南京东路街道", "人民广场地下商场", "水表"),
    ("water_meter", "豫园街道", "豫园商城", "水表"),
    ("gas_meter", "老西门街道", "老西门社区", "燃气总表"),
    ("gas_meter", "瑞金二路街道", "瑞金二路社区", "燃气总表"),
)


@dataclass(frozen=True)
class SensorSpec:
    """One demo device: key, Chinese name, point, metrics and thing properties."""

    key: str
    name: str
    kind: str  # the metric domain: air, noise, water, manhole, traffic, weather, meter
    lon: float
    lat: float
    metrics: tuple[str, ...]
    area: str  # the street code the point falls in
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def interval_seconds(self) -> int:
        """How often the device reports."""
        return INTERVALS[self.kind]

    def thing_json(self) -> dict[str, Any]:
        """Return the body that registers the device (``POST /api/v1/things``)."""
        return {
            "key": self.key,
            "name": self.name,
            "description": "演示设备（模拟数据）",
            "lon": self.lon,
            "lat": self.lat,
            "properties": self.properties,
        }


@dataclass(frozen=True)
class SensorLoad:
    """What registering the demo sensors and their history did."""

    things: int
    datastreams: int
    things_added: int
    datastreams_added: int
    readings_added: int = 0


class SensorServices(Protocol):
    """The services the sensor loader uses."""

    devices: DeviceService
    ingest: IngestService
    rollups: RollupFolder


class _Placer:
    """Points inside the demo city: in a street's grids, on its roads, with the street found."""

    def __init__(self, city: DemoCity, seed: int) -> None:
        self.city = city
        self.rng = random.Random(seed)
        self.street_code = {s.name: s.code for s in city.streets}
        street_of = {c.code: c.parent_code for c in city.communities}
        self.grids: dict[str, list[Any]] = {}
        for grid in city.grids:
            self.grids.setdefault(str(street_of[grid.parent_code or ""]), []).append(grid)
        self.streets = [(s.code, s.geometry) for s in city.streets]
        self.lon_m = city.metres_per_degree_lon
        trunk = [city.roads[r] for r in ROAD_CLASSES if r in city.roads]
        self.trunk = shapely.union_all([self._metric(line) for line in trunk])

    def _metric(self, geometry: Any) -> Any:
        return shapely.transform(geometry, lambda xy: xy * [self.lon_m, _M_PER_DEG_LAT])

    def area(self, point: Point) -> str:
        return next((c for c, g in self.streets if g is not None and g.covers(point)), "")

    def in_street(self, street: str, *, quiet: bool = False) -> Point:
        """Return a point inside one of the street's grids (away from trunk roads if quiet)."""
        grids = self.grids[self.street_code[street]]
        for _ in range(200):
            point = self.rng.choice(grids).geometry.representative_point()
            if not quiet or self._metric(point).distance(self.trunk) > 60:
                return Point(round(point.x, 6), round(point.y, 6))
        return Point(round(point.x, 6), round(point.y, 6))

    def along(self, line: LineString, fraction: float, side_m: float) -> Point:
        """Return a point at ``fraction`` of a road, ``side_m`` metres off its centre line."""
        point = line.interpolate(fraction, normalized=True)
        (x1, y1), (x2, y2) = line.coords[0], line.coords[-1]
        if abs(x2 - x1) < abs(y2 - y1):
            return Point(round(point.x + side_m / self.lon_m, 6), round(point.y, 6))
        return Point(round(point.x, 6), round(point.y + side_m / _M_PER_DEG_LAT, 6))


def demo_sensors(
    city: DemoCity | None = None,
    components: Sequence[Mapping[str, Any]] | None = None,
    *,
    seed: int = SEED,
) -> list[SensorSpec]:
    """Return the demo city's sensors (the same list for the same seed)."""
    city = city or generate()
    rows = components if components is not None else component_rows(city)
    place = _Placer(city, seed)
    specs: list[SensorSpec] = []

    def add(
        prefix: str, kind: str, name: str, point: Point, metrics: tuple[str, ...], **properties: Any
    ) -> None:
        number = sum(1 for s in specs if s.kind == kind) + 1
        specs.append(
            SensorSpec(
                f"{prefix}-{number:03d}",
                name,
                kind,
                point.x,
                point.y,
                metrics,
                place.area(point),
                properties,
            )
        )

    streets = sorted(city.streets, key=lambda s: s.code)
    stations = [
        (s.name, _AIR_NAMES.get(s.name, s.name.removesuffix("街道") + "空气站")) for s in streets
    ] + list(_AIR_EXTRA)
    for index, (street, name) in enumerate(stations):
        metrics = AIR + (("temperature", "humidity") if index % 3 == 0 else ())
        add("AQ", "air", name, place.in_street(street), metrics)
    for road in _TRUNK:
        point = place.along(city.roads[road], 0.5, 15.0)
        add("NZ", "noise", f"{road}噪声监测点", point, ("noise_laeq",), noise_zone="4a")
    for street, name in _SHOPS:
        point = place.in_street(street, quiet=True)
        add("NZ", "noise", f"{name}噪声监测点", point, ("noise_laeq",), noise_zone="2")
    for street in _HOMES:
        point = place.in_street(street, quiet=True)
        home = street.removesuffix("街道")
        add("NZ", "noise", f"{home}居民区噪声监测点", point, ("noise_laeq",), noise_zone="1")
    for road, end, river, name in _RIVER:
        line = city.roads[road]
        (x1, y1), (x2, y2) = line.coords[0], line.coords[-1]
        far = {"east": x2 > x1, "north": y2 > y1, "south": y2 < y1}[end]
        length_m = math.hypot((x2 - x1) * place.lon_m, (y2 - y1) * _M_PER_DEG_LAT)
        fraction = 1 - 40 / length_m if far else 40 / length_m  # 40 m in from the bank
        point = place.along(line, fraction, 0.0)
        add("WQ", "water", name, point, WATER, waterbody="river", river=river, target_class="III")
    for road, row in _manholes(city, rows, seed):
        point = Point(row["lon"], row["lat"])
        name = f"{road}{int(row['id'][-6:])}号雨水井盖监测"
        add(
            "MH",
            "manhole",
            name,
            point,
            ("manhole_tilt", "manhole_water_level"),
            component_id=row["id"],
            component_name=row["name"],
        )
    for road, start, end, length_km, fraction in _links(city):
        point = place.along(city.roads[road], fraction, 8.0)
        road_class = ROAD_CLASSES.get(road, "secondary")
        add(
            "TR",
            "traffic",
            f"{road}（{start}—{end}）检测器",
            point,
            TRAFFIC,
            road=road,
            road_class=road_class,
            link_length_km=length_km,
        )
    add("WX", "weather", "黄浦区气象站", place.in_street("老西门街道"), WEATHER)
    add("WX", "weather", "外滩气象站", place.in_street("外滩街道"), WEATHER)
    for metric, street, building, meter in _METERS:
        add("MT", "meter", building + meter, place.in_street(street), (metric,), building=building)
    return specs


def _manholes(
    city: DemoCity, rows: Sequence[Mapping[str, Any]], seed: int
) -> list[tuple[str, Mapping[str, Any]]]:
    """Return 10 groups of 4 neighbouring rain-water covers, each with its nearest road."""
    covers = sorted((r for r in rows if r["name"] == "雨水井盖"), key=itemgetter("id"))
    lon_m = city.metres_per_degree_lon

    def metres(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        return math.hypot((a["lon"] - b["lon"]) * lon_m, (a["lat"] - b["lat"]) * _M_PER_DEG_LAT)

    order = list(covers)
    random.Random(seed).shuffle(order)
    centres: list[Mapping[str, Any]] = []
    for cover in order:
        if all(metres(cover, c) > 700 for c in centres):
            centres.append(cover)
        if len(centres) == 10:
            break
    chosen: list[tuple[str, Mapping[str, Any]]] = []
    for centre in centres:
        for cover in sorted(covers, key=lambda c: metres(centre, c))[:4]:
            point = Point(cover["lon"], cover["lat"])
            road = min(city.roads, key=lambda r: city.roads[r].distance(point))
            chosen.append((road, cover))
    return chosen


def _links(city: DemoCity) -> list[tuple[str, str, str, float, float]]:
    """Return the detector links: (road, from, to, length km, midpoint as a fraction)."""
    found: list[tuple[str, str, str, float, float]] = []
    meets = crossings(city)
    for road, count in _LINKS:
        line = city.roads[road]
        stops = sorted(
            (line.project(p, normalized=True), b if a == road else a)
            for a, b, p in meets
            if road in (a, b)
        )
        first = max(0, (len(stops) - 1 - count) // 2)  # the links in the road's middle
        (x1, y1), (x2, y2) = line.coords[0], line.coords[-1]
        length_m = math.hypot((x2 - x1) * city.metres_per_degree_lon, (y2 - y1) * _M_PER_DEG_LAT)
        for (f1, name1), (f2, name2) in list(zip(stops, stops[1:], strict=False))[
            first : first + count
        ]:
            found.append((road, name1, name2, round((f2 - f1) * length_m / 1000, 3), (f1 + f2) / 2))
    return found


def sim_streams(specs: Sequence[SensorSpec]) -> list[SimStream]:
    """Return the simulator's view of the sensors: one entry per datastream."""
    return [
        SimStream(
            key=f"{spec.key}/{metric}",
            thing=spec.key,
            metric=metric,
            interval_seconds=spec.interval_seconds,
            properties=spec.properties,
            lon=spec.lon,
            lat=spec.lat,
            area=spec.area,
        )
        for spec in specs
        for metric in spec.metrics
    ]


def register_sensors(
    services: SensorServices, principal: Principal, specs: Sequence[SensorSpec] | None = None
) -> SensorLoad:
    """Register the demo sensors and their datastreams; keys that exist are left as they are."""
    specs = demo_sensors() if specs is None else specs
    things = {t.key for t in services.devices.things(principal)}
    streams = {s.stream.key for s in services.devices.datastreams(principal)}
    things_added = streams_added = 0
    for spec in specs:
        if spec.key not in things:
            services.devices.register_thing(principal, spec.thing_json())
            things_added += 1
        for metric in spec.metrics:
            if f"{spec.key}/{metric}" not in streams:
                body = {"metric": metric, "interval_seconds": spec.interval_seconds}
                services.devices.add_datastream(principal, spec.key, body)
                streams_added += 1
    total = sum(len(s.metrics) for s in specs)
    return SensorLoad(len(specs), total, things_added, streams_added)


def history_episodes(end: datetime, zone: tzinfo) -> list[Episode]:
    """Return the history's episodes: a pollution night 9 days and a flood 4 days before ``end``."""
    local = end.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Episode("pollution", local - timedelta(days=9) + timedelta(hours=17)),
        Episode("flooding", local - timedelta(days=4) + timedelta(hours=15)),
    ]


def load_history(
    services: SensorServices,
    principal: Principal,
    end: datetime,
    zone: tzinfo,
    *,
    specs: Sequence[SensorSpec] | None = None,
    days: int = HISTORY_DAYS,
    seed: int = SEED,
) -> int:
    """Store ``days`` of simulated readings up to ``end``; nothing when the sensors have readings.

    Returns how many readings were stored.
    """
    specs = demo_sensors() if specs is None else specs
    statuses = {s.stream.key: s for s in services.devices.datastreams(principal)}
    streams = [s for s in sim_streams(specs) if s.key in statuses]
    if days <= 0 or any(statuses[s.key].latest is not None for s in streams):
        return 0  # loaded before (or live readings came first): a second load adds nothing
    ids = {s.key: statuses[s.key].stream.id for s in streams}
    simulation = Simulation(streams, seed=seed, episodes=history_episodes(end, zone), zone=zone)
    stored = 0
    moment = end - timedelta(days=days)
    while moment < end:
        # A day at a time, sorted by datastream: the store inserts in key order much faster.
        until = min(end, moment + timedelta(days=1))
        day = sorted(simulation.samples(moment, until, steps=HISTORY_STEPS), key=itemgetter(0))
        for offset in range(0, len(day), MAX_BATCH):
            batch = ObservationBatch()
            for key, millis, value in day[offset : offset + MAX_BATCH]:
                batch.append(ids[key], millis, value)
            stored += services.ingest.store(batch).inserted
        moment = until
    services.rollups.fold()  # the month's rollups ready before the first page asks
    return stored
