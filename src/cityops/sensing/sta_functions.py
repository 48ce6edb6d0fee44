"""The built-in functions of SensorThings ``$filter`` (OGC 18-088 §9.3.3.5.2), evaluated in Python.

Used by :mod:`cityops.sensing.sta_eval` on the small entity sets. Each function takes already
evaluated arguments; a null argument gives null (a boolean function gives false), as OData says.
Geometry comes as GeoJSON (entity properties) or as a ``geography'…'`` literal and is handled by
shapely; distances and lengths are in the coordinates' units (degrees for WGS 84), as 18-088
leaves them. The interval relations (``before``, ``during`` …) are an extension: a time is an
instant or an interval ``start/end``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityops.sensing.sta_filter import Geography

MIN_DATETIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

BOOLEAN_FUNCTIONS = frozenset(
    {"substringof", "endswith", "startswith", "contains", "geo.intersects"}
    | {"st_equals", "st_disjoint", "st_touches", "st_within", "st_overlaps", "st_crosses"}
    | {"st_intersects", "st_contains", "st_relate"}
    | {"before", "after", "meets", "during", "overlaps", "starts", "finishes"}
)


def as_datetime(value: Any) -> datetime | None:
    """Return a value as an aware datetime (an ISO text is parsed; a date is its UTC midnight)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            parsed = datetime.fromisoformat(value.split("/", 1)[0])
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def as_interval(value: Any) -> tuple[datetime, datetime] | None:
    """Return a time or interval (a tuple, ``start/end`` text or an instant) as (start, end)."""
    if isinstance(value, tuple) and len(value) == 2:
        start, end = as_datetime(value[0]), as_datetime(value[1])
        return (start, end) if start and end else None
    if isinstance(value, str) and "/" in value:
        first, _, second = value.partition("/")
        start, end = as_datetime(first), as_datetime(second)
        return (start, end) if start and end else None
    instant = as_datetime(value)
    return (instant, instant) if instant else None


def as_geometry(value: Any) -> BaseGeometry | None:
    """Return GeoJSON (geometry or Feature) or a geography literal as a shapely geometry."""
    try:
        if isinstance(value, Geography):
            return shapely.from_wkt(value.wkt)
        if isinstance(value, Mapping):
            geometry = value.get("geometry") if value.get("type") == "Feature" else value
            if isinstance(geometry, Mapping):
                return shape(dict(geometry))
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError):
        return None
    return None


def number(value: Any) -> float | int | None:
    """Return a value as a number (None for anything else, booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float):
        return value
    return None


def _round_half_away(value: float) -> float:
    return float(math.floor(value + 0.5)) if value >= 0 else -float(math.floor(-value + 0.5))


def _text(args: tuple[Any, ...], count: int) -> tuple[str, ...] | None:
    texts = args[:count]
    return texts if all(isinstance(t, str) for t in texts) else None


def _string_function(name: str, args: tuple[Any, ...]) -> Any:
    if name == "concat":
        texts = _text(args, 2)
        return texts[0] + texts[1] if texts else None
    if name == "substring":
        if not isinstance(args[0], str) or any(number(a) is None for a in args[1:]):
            return None
        start = int(number(args[1]) or 0)
        if len(args) == 2:
            return args[0][start:]
        return args[0][start : start + int(number(args[2]) or 0)]
    texts = _text(args, len(args))
    if texts is None:
        return False if name in BOOLEAN_FUNCTIONS else None
    handlers: dict[str, Callable[[tuple[str, ...]], Any]] = {
        "substringof": lambda t: t[0] in t[1],
        "contains": lambda t: t[1] in t[0],
        "startswith": lambda t: t[0].startswith(t[1]),
        "endswith": lambda t: t[0].endswith(t[1]),
        "length": lambda t: len(t[0]),
        "indexof": lambda t: t[0].find(t[1]),
        "tolower": lambda t: t[0].lower(),
        "toupper": lambda t: t[0].upper(),
        "trim": lambda t: t[0].strip(),
    }
    return handlers[name](texts)


def _date_function(name: str, value: Any) -> Any:
    moment = as_datetime(value)
    if moment is None:
        return None
    parts: dict[str, Callable[[datetime], Any]] = {
        "year": lambda m: m.year,
        "month": lambda m: m.month,
        "day": lambda m: m.day,
        "hour": lambda m: m.hour,
        "minute": lambda m: m.minute,
        "second": lambda m: m.second,
        "fractionalseconds": lambda m: m.microsecond / 1_000_000,
        "date": lambda m: m.date(),
        "time": lambda m: m.timetz().replace(tzinfo=None),
        "totaloffsetminutes": lambda m: int((m.utcoffset() or timedelta(0)).total_seconds() // 60),
    }
    return parts[name](moment)


def _math_function(name: str, value: Any) -> Any:
    found = number(value)
    if found is None or not math.isfinite(found):
        return None
    if name == "round":
        return _round_half_away(float(found))
    return float(math.floor(found) if name == "floor" else math.ceil(found))


def _geo_function(name: str, args: tuple[Any, ...]) -> Any:
    shapes = [as_geometry(a) for a in args[:2]] if name != "geo.length" else [as_geometry(args[0])]
    if any(s is None for s in shapes):
        return False if name in BOOLEAN_FUNCTIONS else None
    first = shapes[0]
    assert first is not None
    if name == "geo.length":
        return float(first.length)
    second = shapes[1]
    assert second is not None
    if name == "geo.distance":
        return float(first.distance(second))
    if name == "st_relate":
        pattern = args[2]
        return isinstance(pattern, str) and bool(first.relate_pattern(second, pattern))
    predicate = {
        "geo.intersects": first.intersects,
        "st_intersects": first.intersects,
        "st_equals": first.equals,
        "st_disjoint": first.disjoint,
        "st_touches": first.touches,
        "st_within": first.within,
        "st_overlaps": first.overlaps,
        "st_crosses": first.crosses,
        "st_contains": first.contains,
    }[name]
    return bool(predicate(second))


def _interval_function(name: str, args: tuple[Any, ...]) -> bool:
    first, second = as_interval(args[0]), as_interval(args[1])
    if first is None or second is None:
        return False
    (a0, a1), (b0, b1) = first, second
    relations: dict[str, bool] = {
        "before": a1 < b0,
        "after": a0 > b1,
        "meets": a1 == b0 or b1 == a0,
        "during": b0 <= a0 and a1 <= b1,
        "overlaps": a0 < b1 and b0 < a1,
        "starts": a0 == b0,
        "finishes": a1 == b1,
    }
    return relations[name]


_DATE_PARTS = frozenset(
    {"year", "month", "day", "hour", "minute", "second", "fractionalseconds", "date", "time"}
    | {"totaloffsetminutes"}
)
_STRING = frozenset(
    {"substringof", "endswith", "startswith", "contains", "length", "indexof", "substring"}
    | {"tolower", "toupper", "trim", "concat"}
)
_INTERVALS = frozenset({"before", "after", "meets", "during", "overlaps", "starts", "finishes"})


def call(name: str, args: tuple[Any, ...], now: datetime) -> Any:
    """Return the value of ``name(args)``; None stands for null."""
    if name == "now":
        return now
    if name == "mindatetime":
        return MIN_DATETIME
    if name == "maxdatetime":
        return MAX_DATETIME
    if any(a is None for a in args):
        return False if name in BOOLEAN_FUNCTIONS else None
    if name in _STRING:
        return _string_function(name, args)
    if name in _DATE_PARTS:
        return _date_function(name, args[0])
    if name in ("round", "floor", "ceiling"):
        return _math_function(name, args[0])
    if name in _INTERVALS:
        return _interval_function(name, args)
    if name.startswith(("geo.", "st_")):
        return _geo_function(name, args)
    raise ValueError(f"unknown function {name}")  # pragma: no cover - the parser checks names
