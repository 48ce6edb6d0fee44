"""Traffic operation indices: link levels, the 0–10 network TPI, the TTI and congestion episodes.

**Unverified profile.** Every threshold lives in a versioned data file
(``data/traffic-profile-db11-785.json``, marked ``"verified": false``) because the primary texts,
GB/T 33171-2016 and Beijing DB11/T 785-2011, were not read: the speed bands are grade C secondary
material, the congested-mileage → TPI breakpoints (DB11/T 785 附录C) are grade D memory, and the
colours, the end of the curve (20 % → TPI 10) and the set of "congested" levels (中度拥堵 and
严重拥堵) are choices documented in the file (see shared/reference/standards-cn.md §3). Every
result names its profile and says whether it is verified; a city that holds the standard, or its
own calibration, passes its own profile dict.

* link level (1 畅通 … 5 严重拥堵) from the average travel speed per road class (快速路, 主干路,
  次干路、支路); a speed on a threshold falls in the worse level (65 km/h on a 快速路 is 基本畅通);
* network TPI: the VKT-weighted share of congested links (the weight defaults to the length, so
  without traffic counts it is the congested-mileage ratio), mapped piecewise-linearly to 0–10,
  rounded to one decimal (half up) and only then banded, so the published figure and its band
  agree; the arithmetic is exact (decimal inputs, a fractional ratio), so a ratio on a
  breakpoint lands on it;
* TTI (DiDi TrafficIndex, 高德拥堵延时指数): Σw·L/v ÷ Σw·L/v_free, a second figure that needs no
  thresholds at all;
* congestion episodes over a time series of one link's speeds or of the network's TPI.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from cityops.kernel.errors import ValidationFailed

PROFILES = {"db11-785": "traffic-profile-db11-785.json"}
DEFAULT_PROFILE = "db11-785"
NETWORK = "network"  # the road_class of a network TPI series in congestion_episodes
TTI_CAP = 40  # DiDi caps its TTI at 40 (notes §3.2)
REQUIRED_KEYS = "profile verified road_classes levels tpi_bands ratio_to_tpi congested_levels"

LEVEL_FIELDS = ("level", "name", "name_en", "color", "color_en", "hex")

Profile = Mapping[str, Any]


@dataclass(frozen=True)
class Level:
    """A traffic operation level (1 畅通 … 5 严重拥堵) with its map colour."""

    level: int
    name: str
    name_en: str
    color: str
    color_en: str
    hex: str

    def as_json(self) -> dict[str, Any]:
        """Return the level as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class Link:
    """One road link's observation; a mapping with the same keys is accepted too."""

    road_class: str
    length_km: float
    speed_kmh: float
    weight: float | None = None  # VKT (veh·km); None: the length
    free_speed_kmh: float | None = None  # only travel_time_index needs it


@dataclass(frozen=True)
class RoadClassShare:
    """One road class's part of a network index."""

    road_class: str
    name: str
    links: int
    length_km: float
    congested_km: float
    weight: float
    congested_weight: float
    share: float  # of the network's weight (VKT share, DB11/T 785 附录B)
    ratio: float  # the class's own congested share; Σ share·ratio is the network's ratio


@dataclass(frozen=True)
class NetworkIndex:
    """A network TPI (0–10) with its level, the congested share behind it and its profile."""

    tpi: float
    level: Level
    ratio: float  # weighted congested share, 0–1
    congested_km: float
    total_km: float
    by_road_class: dict[str, RoadClassShare]
    profile: str
    verified: bool

    def as_json(self) -> dict[str, Any]:
        """Return the index as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class Episode:
    """A stretch of congestion on one link (speeds) or on the network (TPI)."""

    road_class: str  # NETWORK for a TPI series
    start: datetime
    end: datetime | None  # None: still congested at the last sample
    duration: timedelta  # so far, when ongoing
    peak_level: Level
    samples: int
    mean_speed_kmh: float | None  # links only
    mean_tpi: float | None  # network only
    length_km: float | None
    ended_by: str  # "relief", "missing_data" or "open"

    @property
    def ongoing(self) -> bool:
        """Whether the series ends inside the episode."""
        return self.ended_by == "open"

    def as_json(self) -> dict[str, Any]:
        """Return the episode as JSON-ready values."""
        data = {**asdict(self), "end": self.end.isoformat() if self.end else None}
        data["duration_s"] = data.pop("duration").total_seconds()  # a timedelta is not JSON
        return {**data, "start": self.start.isoformat(), "ongoing": self.ongoing}


@cache
def _packaged(name: str) -> dict[str, Any]:
    text = resources.files("cityops.analytics").joinpath("data", PROFILES[name])
    profile = dict(json.loads(text.read_text(encoding="utf-8")))
    check_profile(profile)
    return profile


def load_profile(name: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """Return a packaged profile; a copy, so that a city can edit it into its own."""
    if name not in PROFILES:
        raise ValidationFailed.single(
            "profile", "one_of", f"unknown {name!r}; expected one of {', '.join(PROFILES)}"
        )
    return copy.deepcopy(_packaged(name))


def check_profile(profile: Profile) -> None:
    """Raise ``ValidationFailed`` unless a profile has the shape and order this module relies on."""
    for key in REQUIRED_KEYS.split():
        if key not in profile:
            raise ValidationFailed.single(f"profile.{key}", "profile", "missing")
    where = "levels"
    try:
        numbers = [int(item["level"]) for item in profile["levels"]]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("levels must be numbered 1, 2, … in order")
        for key, road in profile["road_classes"].items():
            where = f"road_classes.{key}.speed_bands"
            bands = road["speed_bands"]
            edges = [band["above"] for band in bands[:-1]]
            if (
                [band["level"] for band in bands] != numbers
                or bands[0]["at_most"] is not None
                or bands[-1]["above"] is not None
                or any(low["at_most"] != high["above"] for high, low in pairwise(bands))
                or any(a <= b for a, b in pairwise(edges))
            ):
                raise ValueError("bands must cover every level, fastest first, contiguously")
        where = "tpi_bands"
        bands = profile["tpi_bands"]
        if [band["level"] for band in bands] != numbers or bands[0]["from"] != 0:
            raise ValueError("bands must cover every level from TPI 0 up")
        if any(low["to"] != high["from"] for low, high in pairwise(bands)):
            raise ValueError("bands must be contiguous")
        where = "ratio_to_tpi.breakpoints"
        points = profile["ratio_to_tpi"]["breakpoints"]
        if list(points[0]) != [0, 0] or list(points[-1][1:]) != [bands[-1]["to"]]:
            raise ValueError("must run from [0, 0] to the top of the last TPI band")
        if any(a[0] >= b[0] or a[1] > b[1] for a, b in pairwise(points)):
            raise ValueError("ratios must rise and TPIs never fall")
        where = "congested_levels"
        if not profile["congested_levels"] or not set(profile["congested_levels"]) <= set(numbers):
            raise ValueError("must name some of the levels")
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValidationFailed.single(f"profile.{where}", "profile", str(error)) from None


def _rules(profile: Profile | None) -> Profile:
    if profile is None:
        return _packaged(DEFAULT_PROFILE)
    check_profile(profile)
    return profile


def levels(profile: Profile | None = None) -> list[Level]:
    """Return a profile's levels, best (畅通) first."""
    return _levels(_rules(profile))


def _levels(rules: Profile) -> list[Level]:
    return [Level(**{name: item[name] for name in LEVEL_FIELDS}) for item in rules["levels"]]


def road_class_of(name: str, profile: Profile | None = None) -> str:
    """Return the profile's key for a road class given by key, name or alias (``主干路``)."""
    return _road_key(_rules(profile), name, "road_class")


def _road_names(rules: Profile) -> dict[str, str]:
    roads = rules["road_classes"].items()
    aliases = ((k, [k, road["name"], *road.get("aliases", ())]) for k, road in roads)
    return {name.lower(): str(key) for key, names in aliases for name in names}


def _road_key(rules: Profile, name: object, field: str, names: dict[str, str] | None = None) -> str:
    found = (names or _road_names(rules)).get(str(name).strip().lower())
    if found is None:
        known = ", ".join(rules["road_classes"])
        raise ValidationFailed.single(
            field, "one_of", f"unknown road class {name!r}; expected {known}"
        )
    return found


def _number(field: str, value: object, *, positive: bool = False) -> Decimal:
    try:
        # Decimal through str: 65.01 means 65.01, so a value on a threshold stays on it, sums of
        # lengths are exact, and it is fast enough for a whole city's links.
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValidationFailed.single(field, "number", f"not a finite number: {value!r}")
    if positive and number <= 0:
        raise ValidationFailed.single(field, "positive", f"must be > 0, got {value}")
    if number < 0:
        raise ValidationFailed.single(field, "non_negative", f"must be ≥ 0, got {value}")
    return number


def link_level(road_class: str, speed_kmh: float, profile: Profile | None = None) -> Level:
    """Return the level of a link's average travel speed (km/h) on its road class."""
    rules = _rules(profile)
    key = _road_key(rules, road_class, "road_class")
    return _grade(_speed_bands(rules)[key], _number("speed_kmh", speed_kmh))


Bands = list[tuple[Decimal | None, Level]]  # (exclusive lower bound, level), best first


def _speed_bands(rules: Profile) -> dict[str, Bands]:
    found = _levels(rules)
    return {
        key: [
            (None if band["above"] is None else Decimal(str(band["above"])), level)
            for band, level in zip(road["speed_bands"], found, strict=True)
        ]
        for key, road in rules["road_classes"].items()
    }


def _grade(bands: Bands, speed: Decimal) -> Level:
    return next(level for above, level in bands if above is None or speed > above)


def tpi_from_ratio(ratio: float, profile: Profile | None = None) -> float:
    """Return the TPI (0–10, one decimal) of a congested share (0–1) on the 附录C curve."""
    share = _number("ratio", ratio)
    if share > 1:
        raise ValidationFailed.single("ratio", "range", f"must be a share 0–1, got {ratio}")
    return float(_round_tpi(_tpi_of_ratio(_rules(profile), Fraction(share))))


def _tpi_of_ratio(rules: Profile, ratio: Fraction) -> Fraction:
    points = [
        (Fraction(str(r)) / 100, Fraction(str(t))) for r, t in rules["ratio_to_tpi"]["breakpoints"]
    ]
    for (r0, t0), (r1, t1) in pairwise(points):
        if ratio <= r1:
            return t0 + (t1 - t0) * (ratio - r0) / (r1 - r0)
    return points[-1][1]  # beyond the last breakpoint the TPI is capped


def _round_tpi(tpi: Fraction) -> Fraction:
    return Fraction(math.floor(tpi * 10 + Fraction(1, 2)), 10)


def tpi_level(tpi: float, profile: Profile | None = None) -> Level:
    """Return the band of a TPI; on a boundary, the worse band (2.0 is 基本畅通)."""
    return _tpi_level(_rules(profile), _number("tpi", tpi), "tpi")


def _tpi_level(rules: Profile, value: Decimal | Fraction, field: str) -> Level:
    bands, tpi = rules["tpi_bands"], Fraction(value)
    if tpi > Fraction(str(bands[-1]["to"])):
        raise ValidationFailed.single(field, "range", f"must be 0–{bands[-1]['to']}, got {value}")
    pairs = zip(bands[::-1], _levels(rules)[::-1], strict=True)
    return next(level for band, level in pairs if tpi >= Fraction(str(band["from"])))


def _link(
    raw: Link | Mapping[str, Any], index: int, names: tuple[str, ...]
) -> tuple[dict[str, Any], Decimal, Decimal, Decimal]:
    """Return a link's values, length, speed and weight (the length when none is given)."""
    where = f"links[{index}]"
    values = vars(raw) if isinstance(raw, Link) else raw
    if not isinstance(values, Mapping):
        raise ValidationFailed.single(where, "type", "expected a Link or a mapping")
    for name in ("length_km", "speed_kmh", *names):
        if values.get(name) is None:
            raise ValidationFailed.single(f"{where}.{name}", "required", "missing")
    length = _number(f"{where}.length_km", values["length_km"], positive=True)
    speed = _number(f"{where}.speed_kmh", values["speed_kmh"])
    weight = length if values.get("weight") is None else values["weight"]
    return dict(values), length, speed, _number(f"{where}.weight", weight)


def network_index(
    links: Iterable[Link | Mapping[str, Any]], profile: Profile | None = None
) -> NetworkIndex:
    """Return the network TPI of a set of links from their VKT-weighted congested share."""
    rules = _rules(profile)
    congested = set(rules["congested_levels"])
    bands, names = _speed_bands(rules), _road_names(rules)
    # Per class: links, length, congested length, weight, congested weight.
    rows: dict[str, list[Decimal]] = {}
    for index, raw in enumerate(links):
        values, length, speed, weight = _link(raw, index, ("road_class",))
        key = _road_key(rules, values["road_class"], f"links[{index}].road_class", names)
        hit = _grade(bands[key], speed).level in congested
        row = rows.setdefault(key, [Decimal(0)] * 5)
        for at, amount in enumerate((Decimal(1), length, length * hit, weight, weight * hit)):
            row[at] += amount
    if not rows:
        raise ValidationFailed.single("links", "non_empty", "at least one link is needed")
    total = sum(row[3] for row in rows.values())
    if total == 0:
        raise ValidationFailed.single("links", "positive_total", "the weights add up to 0")
    ratio = Fraction(sum(row[4] for row in rows.values())) / Fraction(total)
    tpi = _round_tpi(_tpi_of_ratio(rules, ratio))
    shares = {
        key: RoadClassShare(
            road_class=key,
            name=rules["road_classes"][key]["name"],
            links=int(row[0]),
            length_km=float(row[1]),
            congested_km=float(row[2]),
            weight=float(row[3]),
            congested_weight=float(row[4]),
            share=float(row[3] / total),
            ratio=float(row[4] / row[3]) if row[3] else 0.0,
        )
        for key, row in ((key, rows[key]) for key in rules["road_classes"] if key in rows)
    }
    return NetworkIndex(
        tpi=float(tpi),
        level=_tpi_level(rules, tpi, "tpi"),
        ratio=float(ratio),
        congested_km=float(sum(row[2] for row in rows.values())),
        total_km=float(sum(row[1] for row in rows.values())),
        by_road_class=shares,
        profile=str(rules["profile"]),
        verified=bool(rules["verified"]),
    )


def travel_time_index(links: Iterable[Link | Mapping[str, Any]], *, cap: float = TTI_CAP) -> float:
    """Return Σ w·(L/v) ÷ Σ w·(L/v_free): 1.0 is free flow, 2.0 takes twice as long.

    Each link needs ``free_speed_kmh``; the weight defaults to the length. A link's time is
    capped at ``cap`` × its free-flow time: a stalled link (v = 0) has no finite time, and
    DiDi's code skips such records, which would flatter the index; the cap also bounds the
    whole at ``cap`` (40 by default, as DiDi's TTI).
    """
    times_cap = _number("cap", cap, positive=True)
    actual = free = Decimal(0)
    count = 0
    for index, raw in enumerate(links):
        values, length, speed, weight = _link(raw, index, ("free_speed_kmh",))
        v_free = _number(f"links[{index}].free_speed_kmh", values["free_speed_kmh"], positive=True)
        free_time = weight * length / v_free
        limit = free_time * times_cap
        actual += limit if speed == 0 else min(weight * length / speed, limit)
        free += free_time
        count += 1
    if count == 0:
        raise ValidationFailed.single("links", "non_empty", "at least one link is needed")
    if free == 0:
        raise ValidationFailed.single("links", "positive_total", "the weights add up to 0")
    return float(actual / free)


def congestion_episodes(
    samples: Iterable[tuple[datetime, float]],
    road_class: str,
    profile: Profile | None = None,
    *,
    interval: timedelta = timedelta(minutes=5),
    min_duration: timedelta = timedelta(minutes=15),
    max_gap: timedelta = timedelta(minutes=10),
    length_km: float | None = None,
) -> list[Episode]:
    """Return the congestion episodes in a series of ``(time, speed)``, or ``(time, TPI)``.

    ``road_class`` is the link's class, or ``NETWORK`` for a TPI series. A sample is congested
    when its level is one of the profile's ``congested_levels``; it stands for the time until
    the next sample, at most ``interval``. Two samples more than ``interval`` apart have a hole
    between them: missing data ends an episode (``ended_by="missing_data"``), since nothing says
    the congestion went on. Episodes separated by observed relief shorter than ``max_gap`` are
    merged (never across a hole); then those shorter than ``min_duration`` are dropped. An
    episode still congested at the last sample has ``end=None``, ``ongoing`` true and its
    duration so far. The input may be in any order; a time given twice is an error.
    """
    rules = _rules(profile)
    network = road_class == NETWORK
    key = NETWORK if network else _road_key(rules, road_class, "road_class")
    if interval <= timedelta(0):
        raise ValidationFailed.single("interval", "positive", f"must be > 0, got {interval}")
    for name, span in (("min_duration", min_duration), ("max_gap", max_gap)):
        if span < timedelta(0):
            raise ValidationFailed.single(name, "non_negative", f"must be ≥ 0, got {span}")
    length = None if length_km is None else float(_number("length_km", length_km, positive=True))
    bands = [] if network else _speed_bands(rules)[key]
    rows: list[tuple[datetime, Decimal, Level]] = []
    for index, (time, value) in enumerate(samples):
        if not isinstance(time, datetime):
            raise ValidationFailed.single(f"samples[{index}].time", "datetime", "not a datetime")
        field = f"samples[{index}].{'tpi' if network else 'speed_kmh'}"
        number = _number(field, value)
        level = _tpi_level(rules, number, field) if network else _grade(bands, number)
        rows.append((time, number, level))
    try:
        rows.sort(key=lambda row: row[0])
    except TypeError:
        raise ValidationFailed.single("samples", "comparable", "naive and aware times") from None
    times = [row[0] for row in rows]
    if any(a == b for a, b in pairwise(times)):
        raise ValidationFailed.single("samples", "unique_time", "a time is given twice")
    last_index = len(rows) - 1
    hole = [i < last_index and times[i + 1] - times[i] > interval for i in range(len(rows))]
    cover = [
        times[i] + interval if i == last_index or hole[i] else times[i + 1]
        for i in range(len(rows))
    ]
    congested = set(rules["congested_levels"])
    runs: list[list[int]] = []  # [first, last] sample indices
    for i, row in enumerate(rows):
        if row[2].level not in congested:
            continue
        prev = runs[-1][1] if runs else -1
        # A short relief, observed throughout (no hole), does not split an episode.
        if runs and not any(hole[prev:i]) and (prev == i - 1 or times[i] - cover[prev] < max_gap):
            runs[-1][1] = i
        else:
            runs.append([i, i])
    episodes: list[Episode] = []
    for first, last in runs:
        duration = cover[last] - times[first]
        if duration < min_duration:
            continue
        span_rows = rows[first : last + 1]
        mean = float(sum(row[1] for row in span_rows) / len(span_rows))
        ended_by = "open" if last == last_index else "missing_data" if hole[last] else "relief"
        episodes.append(
            Episode(
                road_class=key,
                start=times[first],
                end=None if ended_by == "open" else cover[last],
                duration=duration,
                peak_level=max((row[2] for row in span_rows), key=lambda lv: lv.level),
                samples=len(span_rows),
                mean_speed_kmh=None if network else mean,
                mean_tpi=mean if network else None,
                length_km=length,
                ended_by=ended_by,
            )
        )
    return episodes
