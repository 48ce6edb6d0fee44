"""What a city index holds per station and per division: the JSON of the map and the reports.

Per station: where it is (its key, point and divisions) and what the standard gives for its
readings, or ``None`` with a ``reason``. Per division, what the division's standard practice
publishes from its stations:

* **air**: the concentrations are the arithmetic means of the stations' valid values, one station
  one weight (HJ 663's city value; a division's hourly means pooled reading by reading would
  weigh a station by how often it reports), and the AQI is computed from those means;
* **noise**: GB 3096 judges each monitor against its own zone, so a division gets the share of
  its monitors that comply by day and by night (达标率) and the arithmetic mean of their Ld and
  Ln (how HJ 640 averages a city's grid points), not one level against one limit;
* **water**: GB 3838 classes each station; a division gets how many stations fall in each class,
  the share in I–III (优良比例, as bulletins give it) and the worst class.

A station outside every division of the level (no grid) is left out of the summaries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from cityops.analytics import aqi as hj633
from cityops.analytics import noise as gb3096
from cityops.analytics import traffic as tpi
from cityops.analytics import water as gb3838
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.air_report import Concentration, area
from cityops.sensing.metrics import Metric
from cityops.sensing.model import Thing

GOOD_WATER = 3  # classes I–III: 优良 (ordinal ≤ 3)


def place(thing: Thing) -> dict[str, Any]:
    """Return where a station is: key, name, point and its divisions."""
    placement = thing.placement
    return {
        "station": thing.key,
        "name": thing.name,
        "lon": thing.lon,
        "lat": thing.lat,
        "grid": placement.grid_code,
        "community": placement.community_code,
        "street": placement.street_code,
        "district": placement.district_code,
    }


def air_station(found: Mapping[str, Concentration], standard: str, report: str) -> dict[str, Any]:
    """Return the AQI of a station's (or area's) concentrations with their validity."""
    values: dict[str, Decimal | float | int | str] = {
        name: c.value for name, c in found.items() if c.value is not None
    }
    result = hj633.aqi(values, standard=standard, report=report).as_json()
    return {
        "concentrations": {name: c.value for name, c in found.items()},
        "validity": {name: c.as_json() for name, c in found.items()},
        "aqi": result,
        "color": result["color"],
    }


def noise_station(thing: Thing, samples: list[gb3096.Sample]) -> dict[str, Any]:
    """Return a monitor's Ld, Ln and Ldn and their compliance with its zone's limits."""
    zone = str(thing.properties.get("noise_zone", "2"))
    levels = gb3096.day_night(samples) if samples else None
    answer: dict[str, Any] = {
        "zone": zone,
        "ld": None,
        "ln": None,
        "ldn": None,
        "hours": {"day": 0.0, "night": 0.0},
        "assessment": None,
        "exceedance": {"day": None, "night": None},
        "reason": None if levels else "no readings that day",
    }
    if levels is not None:
        answer.update(
            ld=None if levels.ld is None else float(levels.ld),
            ln=None if levels.ln is None else float(levels.ln),
            ldn=None if levels.ldn is None else float(levels.ldn),
            hours=levels.hours,
        )
        try:
            assessment = gb3096.assess(zone, levels.ld, levels.ln)
        except ValidationFailed as error:
            answer["reason"] = f"properties.noise_zone: {error.message}"
            return answer
        answer["assessment"] = assessment.as_json()
        answer["exceedance"] = {
            period: None if check is None else float(check.over)
            for period, check in (("day", assessment.day), ("night", assessment.night))
        }
        if levels.missing:
            answer["reason"] = f"no readings in the {' and '.join(levels.missing)} period"
    return answer


def water_station(
    thing: Thing, values: dict[str, tuple[float, str]], kinds: Mapping[str, Metric]
) -> dict[str, Any]:
    """Return a station's values and their GB 3838 single-factor class."""
    body = str(thing.properties.get("waterbody", "river"))
    target = thing.properties.get("target_class")
    graded: dict[str, Decimal | float] = {}
    shown: dict[str, dict[str, Any]] = {}
    for metric, (value, when) in values.items():
        shown[metric] = {"value": value, "time": when}
        parameter = kinds[metric].analytics.get(gb3838.STANDARD, ())
        if parameter:
            graded[parameter[0]] = Decimal(repr(value))
    answer: dict[str, Any] = {
        "waterbody": body,
        "target_class": target,
        "values": shown,
        "assessment": None,
        "color": None,
        "reason": None,
    }
    if not graded:
        answer["reason"] = "no reading of a GB 3838 parameter"
        return answer
    try:
        result = gb3838.assess(graded, body, target)
    except ValidationFailed as error:
        answer["reason"] = error.message
        return answer
    answer["assessment"] = result.as_json()
    answer["color"] = result.water_class.hex
    return answer


def link(thing: Thing, speed: float | None, readings: int) -> dict[str, Any]:
    """Return a link's speed and level (None with a reason where it cannot be given)."""
    road = thing.properties.get("road_class")
    length = thing.properties.get("link_length_km")
    answer: dict[str, Any] = {
        "road_class": road,
        "length_km": length,
        "speed_kmh": speed,
        "readings": readings,
        "level": None,
        "reason": None,
    }
    if speed is None:
        answer["reason"] = "no speed reading in the window"
    elif (
        isinstance(length, bool) or not isinstance(length, int | float) or not 0 < length < math.inf
    ):
        answer["reason"] = "properties.link_length_km must be a number > 0"
    else:
        try:
            answer["level"] = tpi.link_level(str(road), speed).as_json()
        except ValidationFailed as error:
            answer["reason"] = f"properties.road_class: {error.message}"
    return answer


# ------------------------------------------------------------------ divisions


def _by_division(items: Sequence[Mapping[str, Any]], level: str) -> dict[str, list[int]]:
    """Return, per division code of ``level``, the positions of its stations in ``items``."""
    found: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        code = item.get(level)
        if code is not None:
            found.setdefault(str(code), []).append(index)
    return dict(sorted(found.items()))


def _head(code: str, level: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"division": code, "level": level, "stations": [item["station"] for item in items]}


def air_areas(
    items: Sequence[Mapping[str, Any]],
    founds: Sequence[Mapping[str, Concentration]],
    level: str,
    describe: Callable[[dict[str, Concentration]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return each division's mean concentrations, described (AQI) by ``describe``."""
    return [
        {
            **_head(code, level, [items[i] for i in where]),
            **describe(area([founds[i] for i in where])),
        }
        for code, where in _by_division(items, level).items()
    ]


def _mean(values: Sequence[float | None]) -> float | None:
    found = [value for value in values if value is not None]
    return round(math.fsum(found) / len(found), 1) if found else None


def _compliance(items: Sequence[Mapping[str, Any]], period: str) -> dict[str, Any]:
    checks = [
        item["assessment"][period]
        for item in items
        if item["assessment"] is not None and item["assessment"][period] is not None
    ]
    compliant = sum(1 for check in checks if check["complies"])
    return {
        "assessed": len(checks),
        "compliant": compliant,
        "rate": compliant / len(checks) if checks else None,
    }


def noise_areas(items: Sequence[Mapping[str, Any]], level: str) -> list[dict[str, Any]]:
    """Return each division's compliance rates by day and night and its mean Ld and Ln."""
    answer = []
    for code, where in _by_division(items, level).items():
        members = [items[i] for i in where]
        answer.append(
            {
                **_head(code, level, members),
                "ld_mean": _mean([item["ld"] for item in members]),
                "ln_mean": _mean([item["ln"] for item in members]),
                "day": _compliance(members, "day"),
                "night": _compliance(members, "night"),
            }
        )
    return answer


def water_areas(items: Sequence[Mapping[str, Any]], level: str) -> list[dict[str, Any]]:
    """Return each division's stations per class, the share in I–III and the worst class."""
    answer = []
    for code, where in _by_division(items, level).items():
        members = [items[i] for i in where]
        graded = [item["assessment"] for item in members if item["assessment"] is not None]
        counts = {name: 0 for name in gb3838.CLASS_NAMES}
        for result in graded:
            counts[result["class"]] += 1
        worst = max(graded, key=lambda result: int(result["ordinal"]), default=None)
        good = sum(1 for result in graded if int(result["ordinal"]) <= GOOD_WATER)
        answer.append(
            {
                **_head(code, level, members),
                "assessed": len(graded),
                "classes": counts,
                "good_share": good / len(graded) if graded else None,
                "worst": None if worst is None else worst["class"],
                "color": None if worst is None else worst["color"],
            }
        )
    return answer
