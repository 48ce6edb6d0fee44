"""Simulated telemetry: readings that look like a city's, generated in simulated time.

Why: a demo, a load test and the alert rules need readings shaped like real ones (days and
nights, workdays and weekends, weather, noise, gaps) and incidents worth an alert, without
devices. Pure: it yields readings for a window of simulated time and never sleeps, sends or
stores; pacing (a speed-up) and delivery are the caller's.

* One **weather** driver (temperature, humidity, wind, rain) is shared by every device: rain
  washes out particles, raises river and manhole water, slows traffic and adds noise.
* Smooth processes are **functions of time** (hashed value noise), so windows of one seed agree
  where they meet and meters continue one counter; measurement noise and single missing readings
  come from a generator seeded per window. A device also **drops out** now and then (20 minutes
  to 3 hours), never during an episode that concerns it.
* **Episodes** (:data:`SCENARIOS`), each with a start time: ``pollution`` (PM2.5/PM10 climbing
  for 6 h to AQI level 5–6 at one area's air stations, then clearing), ``congestion`` (5
  neighbouring links in the 严重拥堵 band for an hour), ``flooding`` (a cloudburst, then 3
  neighbouring manholes above 0.5 m), ``noise`` (a construction site over its zone's night
  limit for an hour), ``river`` (NH₃-N up to GB 3838 class V at one water station).
  :attr:`Simulation.targets` names the devices each one affects.

Every value is clamped to its metric's valid range and rounded to its decimals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from cityops.analytics.noise import limits as noise_limits
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import from_millis, to_millis

SCENARIOS = ("pollution", "congestion", "flooding", "noise", "river")
DROPOUTS_PER_DAY = 0.04  # chance that a device drops out once on a given day
MISSING_READING = 0.003  # chance that one reading is lost on its own
_H = 3_600_000
_DAY = 24 * _H
_TAU = 2 * math.pi
_METER_EPOCH = 1_577_836_800_000  # 2020-01-01Z: every window continues one meter counter
# Envelope of each episode in hours after its start: rising, holding, falling.
_SPANS = {
    "pollution": (6.0, 2.0, 4.0),
    "congestion": (0.25, 1.0, 0.25),
    "flooding": (1.5, 2.0, 2.5),
    "noise": (0.05, 1.0, 0.05),
    "river": (3.0, 3.0, 4.0),
}
_FLOOD_RAIN = (0.25, 1.5, 0.5)  # the cloudburst that starts a flooding episode
_KINDS = ("air", "noise", "water", "manhole", "traffic", "meter", "weather")
_FREE_SPEED = {"expressway": 72.0, "arterial": 48.0, "secondary": 38.0}  # km/h
# Inside each class's 严重拥堵 band of the DB11/T 785 profile (≤ 20, 15, 10 km/h).
_JAM_SPEED = {"expressway": 12.0, "arterial": 9.0, "secondary": 6.0}
_CAPACITY = {"expressway": (4000.0, 3), "arterial": (2400.0, 3), "secondary": (1200.0, 2)}
# Typical L_Aeq by day and by night per GB 3096 zone: the day limit, roughly, and 12 dB less.
_NOISE = {
    "0": (46, 34),
    "1": (53, 41),
    "2": (57, 45),
    "3": (61, 49),
    "4a": (66, 54),
    "4b": (67, 56),
}
_METER_RATE = {"electricity_meter": 60.0, "water_meter": 1.5, "gas_meter": 4.0}  # per hour
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class SimStream:
    """A datastream to simulate: its key, thing, metric, interval, and its thing's whereabouts."""

    key: str
    thing: str
    metric: str
    interval_seconds: int
    properties: Mapping[str, Any] = field(default_factory=dict)  # noise_zone, road_class …
    lon: float = 0.0
    lat: float = 0.0
    area: str = ""  # a street code: a pollution episode covers one area's air stations


@dataclass(frozen=True, slots=True)
class Episode:
    """A scenario switched on at a moment of simulated time."""

    name: str
    start: datetime

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValidationFailed.single(
                "scenario", "one_of", f"unknown scenario {self.name!r}; one of {SCENARIOS}"
            )
        if self.start.tzinfo is None:
            raise ValidationFailed.single("start", "aware", "an episode starts at an aware time")

    @property
    def length(self) -> timedelta:
        """How long the episode lasts."""
        return timedelta(hours=sum(_SPANS[self.name]))


class Sample(NamedTuple):
    """One simulated reading: datastream key, UTC epoch ms, value in the canonical unit."""

    stream: str
    time: int
    value: float


@dataclass(slots=True)
class _Device:
    thing: str
    kind: str
    streams: dict[str, SimStream]
    props: Mapping[str, Any]
    lon: float
    lat: float
    area: str
    draws: tuple[float, ...]  # fixed per device: its level, phase, peak …
    episodes: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Now:
    t: int
    workday: bool
    summer: float  # 0 in late January, 1 in late July
    rush: float  # 0–1, peaks at 8:00 and 18:00 on workdays
    activity: float  # 0 at night, 1 by day
    sun: float  # 0 at night, 1 at mid-afternoon
    night: float  # 1 at 2:00, 0 at 14:00
    morning: float  # 1 at 8:00
    temp: float
    humidity: float
    wind: float
    wind_dir: float
    rain: float  # mm/h
    wet: float  # recent rain, decaying over about half a day
    regional: float  # slow regional air-quality swings


def _knot(seed: int, channel: int, k: int) -> float:
    """Return a hashed number in [-1, 1) for an integer knot (splitmix64)."""
    x = (seed * 0x9E3779B97F4A7C15 ^ channel * 0xD1B54A32D192ED03 ^ k * 0x94D049BB133111EB) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return (x ^ (x >> 31)) / 2**63 - 1.0


def _smooth(seed: int, channel: int, x: float) -> float:
    """Return smooth noise in [-1, 1]: hashed knots at integers, eased between them."""
    k = math.floor(x)
    f = x - k
    f = f * f * (3 - 2 * f)
    a = _knot(seed, channel, k)
    return a + (_knot(seed, channel, k + 1) - a) * f


def _envelope(spans: tuple[float, float, float], hours: float) -> float:
    up, hold, down = spans
    if hours <= 0 or hours >= up + hold + down:
        return 0.0
    if up <= hours <= up + hold:
        return 1.0
    x = hours / up if hours < up else (up + hold + down - hours) / down
    return x * x * (3 - 2 * x)


def _kind(metrics: Sequence[str]) -> str:
    domains = {catalogue_metric(m).domain for m in metrics}
    return next(k for k in _KINDS if k in domains)


def _distance(a: _Device, b: _Device) -> float:
    return math.hypot((a.lon - b.lon) * math.cos(math.radians(a.lat)), a.lat - b.lat)


class Simulation:
    """Simulated readings of some datastreams, for one seed and a set of episodes."""

    def __init__(
        self,
        streams: Sequence[SimStream],
        *,
        seed: int = 7,
        episodes: Sequence[Episode] = (),
        zone: tzinfo | None = None,
    ) -> None:
        self._seed = seed
        self._zone = zone or ZoneInfo("Asia/Shanghai")
        self._episodes = [(e.name, to_millis(e.start)) for e in episodes]
        grouped: dict[str, list[SimStream]] = {}
        for stream in streams:
            grouped.setdefault(stream.thing, []).append(stream)
        self._devices = [self._device(seed, grouped[thing]) for thing in sorted(grouped)]
        self._limits = {
            s.metric: (m.minimum, m.maximum, m.decimals)
            for s in streams
            for m in (catalogue_metric(s.metric),)
        }
        self.targets: dict[str, tuple[str, ...]] = {}
        for name, start in self._episodes:
            chosen = self.targets.setdefault(name, self._choose(name))
            for device in self._devices:
                if device.thing in chosen:
                    device.episodes.append((name, start))
        # A fixed offset: a meter's daily rhythm must not jump at a daylight-saving change.
        offset = self._zone.utcoffset(datetime(2020, 1, 1))  # noqa: DTZ001 - naive on purpose
        self._offset_h = offset.total_seconds() / 3600 if offset else 0.0
        self._dropouts: dict[tuple[str, int], tuple[int, int] | None] = {}

    @staticmethod
    def _device(seed: int, own: list[SimStream]) -> _Device:
        first = own[0]
        draw = random.Random(f"{seed}:{first.thing}")
        draws = tuple(draw.random() for _ in range(6))
        kind = _kind([s.metric for s in own])
        streams = {s.metric: s for s in own}
        return _Device(
            first.thing, kind, streams, first.properties, first.lon, first.lat, first.area, draws
        )

    # ------------------------------------------------------------------ outputs

    def samples(
        self, start: datetime, end: datetime, *, steps: Mapping[str, int] | None = None
    ) -> Iterator[Sample]:
        """Yield readings in [start, end) in time order (``steps``: seconds per domain)."""
        for t, device, values in self._run(start, end, steps):
            for metric_key, value in values.items():
                yield Sample(device.streams[metric_key].key, t, value)

    def items(
        self,
        start: datetime,
        end: datetime,
        *,
        steps: Mapping[str, int] | None = None,
        per_device: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield ``{"datastream", "time", "value"}`` items, or ``{"thing", "time", "values"}``."""
        for t, device, values in self._run(start, end, steps):
            when = from_millis(t).astimezone(self._zone).isoformat()
            if per_device:
                yield {"thing": device.thing, "time": when, "values": values}
                continue
            for metric_key, value in values.items():
                yield {"datastream": device.streams[metric_key].key, "time": when, "value": value}

    # ------------------------------------------------------------------ the clockwork

    def _run(
        self, start: datetime, end: datetime, steps: Mapping[str, int] | None
    ) -> Iterator[tuple[int, _Device, dict[str, float]]]:
        t0, t1 = to_millis(start), to_millis(end)
        every: dict[str, int] = {}
        for device in self._devices:
            seconds = (steps or {}).get(device.kind)
            if seconds is None:
                seconds = min(s.interval_seconds for s in device.streams.values())
            every[device.thing] = max(1, int(seconds)) * 1000
        if not every:
            return
        base = math.gcd(*every.values())
        rng = random.Random(f"{self._seed}:{t0}:{t1}")
        t = -(-t0 // base) * base  # readings fall on whole multiples of their step
        while t < t1:
            due = [d for d in self._devices if t % every[d.thing] == 0]
            now = self._now(t) if due else None
            for device in due:
                assert now is not None
                if self._dropped(device, t):
                    continue
                values = self._values(device, now, every[device.thing], rng.gauss)
                kept = {m: v for m, v in values.items() if rng.random() >= MISSING_READING}
                if kept:
                    yield t, device, kept
            t += base

    def _rain(self, t: int) -> float:
        hours = t / _H
        wetness = _smooth(self._seed, 1, hours / 3) + 0.6 * _smooth(self._seed, 2, hours / 30)
        rain = max(0.0, wetness - 0.75) * 20
        for name, start in self._episodes:
            if name == "flooding":
                rain += 45 * _envelope(_FLOOD_RAIN, (t - start) / _H)
        return rain

    def _now(self, t: int) -> _Now:
        local = from_millis(t).astimezone(self._zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        workday = local.weekday() < 5
        season = math.cos(_TAU * (local.timetuple().tm_yday - 20) / 365.25)
        hours, seed = t / _H, self._seed
        if workday:
            rush = math.exp(-(((hour - 8) / 1.1) ** 2)) + math.exp(-(((hour - 18) / 1.2) ** 2))
        else:
            rush = 0.35 * math.exp(-(((hour - 15) / 3) ** 2))
        activity = min(1.0, max(0.0, (hour - 5) / 2)) if hour < 21 else max(0.0, (23 - hour) / 2)
        sun = max(0.0, math.sin(math.pi * (hour - 8) / 13)) ** 1.3 if 8 < hour < 21 else 0.0
        daily = math.cos(_TAU * (hour - 14.5) / 24)  # +1 at 14:30, -1 at 2:30
        rain = self._rain(t)
        wet = sum(self._rain(t - k * _H) * 0.7**k for k in range(12)) / 8
        summer = 0.5 - 0.5 * season
        temp = 16.8 - 11.8 * season + 4 * daily + 3 * _smooth(seed, 3, hours / 36)
        temp -= 2 * min(1.0, rain / 4)
        # Prevailing wind: north-west (330°) in winter, south-east (135°) in summer, blended.
        east, north = summer * 0.7071 - (1 - summer) * 0.5, summer * -0.7071 + (1 - summer) * 0.866
        prevailing = math.degrees(math.atan2(east, north))
        return _Now(
            t=t,
            workday=workday,
            summer=summer,
            rush=rush,
            activity=activity,
            sun=sun,
            night=0.5 + 0.5 * math.cos(_TAU * (hour - 2) / 24),
            morning=max(0.0, 1 - abs(hour - 8) / 2.5),
            temp=temp,
            humidity=72 + 12 * _smooth(seed, 4, hours / 48) - 12 * daily + 20 * min(1.0, rain / 2),
            wind=max(0.2, 2.6 + 1.4 * _smooth(seed, 5, hours / 12) + 0.7 * sun),
            wind_dir=(prevailing + 60 * _smooth(seed, 6, hours / 8)) % 360,
            rain=rain,
            wet=wet,
            regional=math.exp(0.45 * _smooth(seed, 7, hours / 30)),
        )

    # ------------------------------------------------------------------ episodes and gaps

    def _choose(self, name: str) -> tuple[str, ...]:
        rng = random.Random(f"{self._seed}:{name}")
        if name == "pollution":
            areas: dict[str, list[str]] = {}
            for device in self._devices:
                if "pm25" in device.streams:
                    areas.setdefault(device.area, []).append(device.thing)
            if not areas:
                return ()
            most = max(len(things) for things in areas.values())
            return tuple(areas[rng.choice(sorted(a for a, t in areas.items() if len(t) == most))])
        metric_key, count = {
            "congestion": ("traffic_speed", 5),
            "flooding": ("manhole_water_level", 3),
            "noise": ("noise_laeq", 1),
            "river": ("nh3n", 1),
        }[name]
        pool = [d for d in self._devices if metric_key in d.streams]
        if name == "noise":  # a construction site among homes or shops, not by a trunk road
            pool = [d for d in pool if d.props.get("noise_zone") in ("1", "2")] or pool
        if not pool:
            return ()

        def nearest(centre: _Device) -> list[_Device]:
            return sorted(pool, key=lambda d: (_distance(centre, d), d.thing))[:count]

        # Among the most compact groups (the best third), one at random: neighbours, not strays.
        spread = sorted(pool, key=lambda c: (sum(_distance(c, d) for d in nearest(c)), c.thing))
        return tuple(d.thing for d in nearest(rng.choice(spread[: max(1, len(spread) // 3)])))

    def _envelope(self, device: _Device, name: str, t: int) -> float:
        if not device.episodes:
            return 0.0
        return max(
            (_envelope(_SPANS[n], (t - start) / _H) for n, start in device.episodes if n == name),
            default=0.0,
        )

    def _dropped(self, device: _Device, t: int) -> bool:
        for name, start in device.episodes:
            if start <= t < start + sum(_SPANS[name]) * _H:
                return False  # an episode must be seen
        day = t // _DAY
        for k in (day - 1, day):
            if (device.thing, k) not in self._dropouts:
                draw = random.Random(f"{self._seed}:drop:{device.thing}:{k}")
                span = None
                if draw.random() < DROPOUTS_PER_DAY:
                    begin = k * _DAY + int(draw.random() * _DAY)
                    span = (begin, begin + int((0.33 + 2.67 * draw.random()) * _H))
                self._dropouts[(device.thing, k)] = span
            found = self._dropouts[(device.thing, k)]
            if found is not None and found[0] <= t < found[1]:
                return True
        return False

    # ------------------------------------------------------------------ the devices

    def _values(self, device: _Device, n: _Now, step_ms: int, gauss: Any) -> dict[str, float]:
        g: Any = lambda: gauss(0.0, 1.0)  # noqa: E731 - a short name keeps the formulas legible
        d = device.draws
        raw: dict[str, float] = {}
        if device.kind == "air":
            level = 0.8 + 0.4 * d[0]
            winter = 1 - n.summer
            disperse = 1.6 / (1 + 0.25 * n.wind)
            wash = 1 - 0.55 * min(1.0, n.wet)
            pm25 = 34 * level * (0.55 + 0.9 * winter) * (0.7 + 0.45 * n.night)
            pm25 *= (1 + 0.3 * winter * n.morning) * n.regional * disperse * wash * (1 + 0.07 * g())
            pm25 = 100 + 25 * math.tanh((pm25 - 100) / 25) if pm25 > 100 else pm25
            peak = (200 + 60 * d[1]) * (1 + 0.04 * g())
            pm25 += (peak - pm25) * self._envelope(device, "pollution", n.t)
            raw["pm25"] = pm25
            raw["pm10"] = pm25 * (1.45 + 0.3 * d[2]) + 6 + 3 * g()
            raw["no2"] = (16 + 34 * n.rush + 10 * n.night) * level * disperse * (1 + 0.08 * g())
            sunlit = n.sun * (0.45 + 0.55 * n.summer) * (1 - 0.7 * min(1.0, n.rain / 2))
            raw["o3"] = (12 + 150 * sunlit) * (1.1 - 0.2 * d[0]) * (1 + 0.08 * g())
            raw["so2"] = 6 * level * (1 + 0.4 * winter) * (1 + 0.1 * g())
            raw["co"] = (0.45 + 0.35 * n.rush + 0.25 * winter) * level * (1 + 0.08 * g())
        elif device.kind == "noise":
            zone = str(device.props.get("noise_zone", "2"))
            day, night = _NOISE.get(zone, _NOISE["2"])
            busy = n.activity * (1.0 if n.workday else 0.9)
            level = night + (day - night) * busy + 1.2 * n.rush + 1.5 * min(1.0, n.rain / 4)
            level += 3 * (d[0] - 0.5) + 1.6 * g()
            site = self._envelope(device, "noise", n.t)
            if site:  # a construction site working at night, 7–11 dB over the zone's limit
                level += (noise_limits(zone).night + 7 + 4 * d[1] + 0.8 * g() - level) * site
            raw["noise_laeq"] = level
        elif device.kind == "water":
            level, wet = 0.85 + 0.3 * d[0], min(1.5, n.wet)
            river = self._envelope(device, "river", n.t)
            nh3n = 0.5 * level + 0.2 * wet + 0.03 * g()
            tide = math.sin(_TAU * n.t / (12.42 * _H) + _TAU * d[1])  # semi-diurnal tide
            raw.update(
                ph=7.45 + 0.3 * n.sun - 0.1 * wet + 0.04 * g(),
                do=6.6 - 0.07 * (n.temp - 17) + 0.9 * n.sun - 2.2 * river + 0.15 * g(),
                codmn=3.8 * level + 1.0 * wet + 1.5 * river + 0.15 * g(),
                nh3n=nh3n + (1.7 + 0.2 * d[2] - nh3n) * river,  # class V: 1.5 < x ≤ 2.0
                tp=0.1 * level + 0.05 * wet + 0.008 * g(),
                turbidity=15 * level + 35 * wet + 2 * g(),
                water_level=3.0 + 0.4 * d[3] + 0.9 * tide + 0.35 * wet + 0.02 * g(),
            )
        elif device.kind == "manhole":
            # Normal rain never lifts a manhole's water above 0.45 m: 0.5 m means a flood.
            level = 0.05 + 0.15 * d[1] + 0.22 * (1 - math.exp(-n.wet)) + 0.01 * g()
            level = min(0.45, level)
            flood = self._envelope(device, "flooding", n.t)
            raw["manhole_water_level"] = level + (0.75 + 0.35 * d[2] - level) * flood
            raw["manhole_tilt"] = 0.3 + 2.0 * d[0] + 0.1 * abs(g())
        elif device.kind == "traffic":
            road = str(device.props.get("road_class", "arterial"))
            road = road if road in _FREE_SPEED else "arterial"
            capacity, lanes = _CAPACITY[road]
            speed = _FREE_SPEED[road] * (0.9 + 0.2 * d[0]) * (1 - 0.42 * n.rush - 0.12 * n.activity)
            speed *= (1 - 0.15 * min(1.0, n.rain / 3)) * (1 + 0.04 * g())
            flow = capacity * (0.1 + 0.6 * n.activity + 0.35 * n.rush) * (0.9 + 0.2 * d[1])
            flow *= 1 + 0.05 * g()
            jam = self._envelope(device, "congestion", n.t)
            speed += (_JAM_SPEED[road] * (0.8 + 0.3 * d[2]) - speed) * jam
            flow *= 1 - 0.35 * jam
            raw["traffic_speed"] = speed
            raw["traffic_flow"] = flow
            # Occupancy from density per lane (veh/km) and about 6 m of detector per vehicle.
            raw["traffic_occupancy"] = flow / lanes / max(speed, 3.0) * 0.6
        elif device.kind == "meter":
            hours = (n.t - _METER_EPOCH) / _H
            local = hours + self._offset_h
            # rate · (1 + 0.55 cos(day) + 0.25 cos(week)) stays positive: the counter only grows.
            used = hours + 0.55 * 24 / _TAU * math.sin(_TAU * (local - 14) / 24)
            used += 0.25 * 168 / _TAU * math.sin(_TAU * (local - 86) / 168)
            for metric_key in device.streams:
                rate = _METER_RATE.get(metric_key, 1.0) * (0.6 + 0.8 * d[0])
                raw[metric_key] = 1000 + 50_000 * d[1] + rate * used
        if any(m not in raw for m in device.streams):
            raw.update(
                temperature=n.temp + 0.6 * (d[4] - 0.3) + 0.1 * g(),
                humidity=n.humidity + 3 * (d[5] - 0.5) + 1.0 * g(),
                wind_speed=max(0.0, n.wind * (1 + 0.15 * g())),
                wind_direction=(n.wind_dir + 15 * g()) % 360,
                rainfall=n.rain * step_ms / _H,
            )
        values: dict[str, float] = {}
        for metric_key in device.streams:
            low, high, decimals = self._limits[metric_key]
            value = raw.get(metric_key)
            if value is not None:
                values[metric_key] = round(min(high, max(low, value)), decimals)
        return values
