"""Places by name: resolve Chinese location text to a point, with a confidence — or say not found.

Text such as "科学大道与长椿路交叉口东南角", "南京东路100号" or "人民广场" is tokenised with jieba
(the gazetteer's names are added to its dictionary, so they come out whole), then matched in order
of precision: a road intersection (with an optional corner or side), a house number on a road, a
named point of interest. Anything else is "not found", with the closest names as candidates;
an answer is never guessed.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

KINDS = ("road", "address", "poi")
_METRES_PER_DEGREE = 111_320.0
_MEET_WITHIN_M = 50.0
_CORNER_OFFSET_M = 15.0
_DIRECTIONS: dict[str, tuple[float, float]] = {
    "东南": (1, -1),
    "东北": (1, 1),
    "西南": (-1, -1),
    "西北": (-1, 1),
    "东": (1, 0),
    "西": (-1, 0),
    "南": (0, -1),
    "北": (0, 1),
}
_INTERSECTION = re.compile(r"(交叉口|交叉路口|十字路口|路口|交口|交汇处|交界处|口)")
_CORNER = re.compile(r"(东南|东北|西南|西北|东|西|南|北)(角|侧|面|边|方向)")
_NUMBER = re.compile(r"(?<!\d)(\d{1,6})\s*号")  # longer numbers are not house numbers


@dataclass(frozen=True, slots=True)
class NamedPlace:
    """A road (a line), an address or a point of interest (a point) with its names."""

    key: str
    kind: str
    name: str
    geometry: BaseGeometry
    aliases: tuple[str, ...] = ()

    @property
    def lon(self) -> float:
        """Longitude of a representative point."""
        return float(self._point().x)

    @property
    def lat(self) -> float:
        """Latitude of a representative point."""
        return float(self._point().y)

    def _point(self) -> Point:
        if isinstance(self.geometry, Point):
            return self.geometry
        if isinstance(self.geometry, LineString | MultiLineString):
            middle: Point = shapely.line_interpolate_point(self.geometry, 0.5, normalized=True)
            return middle
        point: Point = self.geometry.representative_point()
        return point

    def names(self) -> tuple[str, ...]:
        """Return the name and the aliases."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A place the text may have meant, with a similarity score in [0, 1]."""

    name: str
    kind: str
    lon: float
    lat: float
    score: float

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "score": round(self.score, 3),
        }


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer: a point with a confidence and how it was found, or not found + candidates."""

    found: bool
    lon: float | None = None
    lat: float | None = None
    confidence: float = 0.0
    method: str | None = None  # intersection, address, poi
    matched: tuple[str, ...] = ()
    reason: str | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "status": "found" if self.found else "not_found",
            "lon": round(self.lon, 7) if self.lon is not None else None,
            "lat": round(self.lat, 7) if self.lat is not None else None,
            "confidence": round(self.confidence, 2),
            "method": self.method,
            "matched": list(self.matched),
            "reason": self.reason,
            "candidates": [c.as_json() for c in self.candidates],
        }


def normalise(text: str) -> str:
    """Fold full-width characters (１２号 → 12号) and drop white space."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


class Gazetteer:
    """An in-memory index of places, built once per set of places."""

    def __init__(self, places: Iterable[NamedPlace]) -> None:
        self.places = list(places)
        self._by_name: dict[str, list[NamedPlace]] = defaultdict(list)
        for place in self.places:
            for name in place.names():
                self._by_name[normalise(name)].append(place)
        self._addresses: dict[tuple[str, int], NamedPlace] = {}
        for place in self.places:
            if place.kind == "address":
                match = re.fullmatch(r"(.+?)(\d+)号", normalise(place.name))
                if match:
                    self._addresses[(match.group(1), int(match.group(2)))] = place
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        """Split text with jieba, the gazetteer's names being words of the dictionary."""
        with self._lock:
            if self._tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                for name in self._by_name:
                    tokenizer.add_word(name, freq=1_000_000)
                self._tokenizer = tokenizer
            return [t for t in self._tokenizer.lcut(text, HMM=False) if t.strip()]

    def resolve(self, text: str) -> Resolution:
        """Resolve location text to a point, or say not found with candidates."""
        query = normalise(text)
        if not query:
            return Resolution(False, reason="empty text")
        tokens = self.tokens(query)
        named = [(t, self._by_name[t]) for t in tokens if t in self._by_name]
        roads = _unique([p for _t, ps in named for p in ps if p.kind == "road"])
        others = [(t, ps) for t, ps in named if any(p.kind != "road" for p in ps)]
        if len(roads) >= 2:
            return self._intersection(query, roads[0], roads[1])
        number = _NUMBER.search(query)
        if roads and number:
            return self._address(roads[0], int(number.group(1)), query)
        if others:
            token, places = others[0]
            places = [p for p in places if p.kind != "road"]
            if len(places) == 1:
                place = places[0]
                confidence = 0.95 if place.kind == "address" else 0.9
                return Resolution(True, place.lon, place.lat, confidence, place.kind, (place.name,))
            return Resolution(
                False,
                reason=f"{token} names {len(places)} places",
                candidates=tuple(self._candidate(p, 1.0) for p in places[:5]),
            )
        if roads:
            return Resolution(
                False,
                reason=f"only a road ({roads[0].name}) was named; give a crossing road "
                "or a house number",
                candidates=self._similar(query),
            )
        return Resolution(
            False, reason="no known place in the text", candidates=self._similar(query)
        )

    def _intersection(self, query: str, first: NamedPlace, second: NamedPlace) -> Resolution:
        meet = shapely.intersection(first.geometry, second.geometry)
        if meet.is_empty:
            near_a, near_b = nearest_points(first.geometry, second.geometry)
            gap = _metres(near_a.x, near_a.y, near_b.x, near_b.y)
            if gap > _MEET_WITHIN_M:
                return Resolution(
                    False,
                    reason=f"{first.name} and {second.name} do not meet "
                    f"(closest {gap:.0f} m apart)",
                    candidates=(self._candidate(first, 1.0), self._candidate(second, 1.0)),
                )
            point = Point((near_a.x + near_b.x) / 2, (near_a.y + near_b.y) / 2)
        else:
            point = meet if isinstance(meet, Point) else shapely.get_parts(meet)[0].centroid
        lon, lat = float(point.x), float(point.y)
        corner = _CORNER.search(query)
        if corner:
            east, north = _DIRECTIONS[corner.group(1)]
            if east and north:  # a corner: 15 m along the diagonal, not 15 m each way
                east, north = east / math.sqrt(2), north / math.sqrt(2)
            lon += east * _CORNER_OFFSET_M / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
            lat += north * _CORNER_OFFSET_M / _METRES_PER_DEGREE
        confidence = 0.9 if _INTERSECTION.search(query) or corner else 0.75
        return Resolution(True, lon, lat, confidence, "intersection", (first.name, second.name))

    def _address(self, road: NamedPlace, number: int, query: str) -> Resolution:
        exact = self._addresses.get((normalise(road.name), number))
        if exact is not None:
            return Resolution(True, exact.lon, exact.lat, 0.95, "address", (exact.name,))
        same_road = sorted(
            ((n, p) for (name, n), p in self._addresses.items() if name == normalise(road.name)),
            key=lambda pair: abs(pair[0] - number),
        )
        return Resolution(
            False,
            reason=f"{road.name}{number}号 is not in the gazetteer",
            candidates=tuple(
                self._candidate(p, 1 / (1 + abs(n - number) / 10)) for n, p in same_road[:5]
            )
            or (self._candidate(road, 0.5),),
        )

    def _similar(self, query: str, limit: int = 5) -> tuple[Candidate, ...]:
        wanted = _bigrams(query)
        scored: list[tuple[float, NamedPlace]] = []
        for name, places in self._by_name.items():
            grams = _bigrams(name)
            score = len(wanted & grams) / len(grams)
            if score > 0:
                scored.extend((score, p) for p in places)
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        seen: set[str] = set()
        found: list[Candidate] = []
        for score, place in scored:
            if place.key not in seen:
                seen.add(place.key)
                found.append(self._candidate(place, score))
            if len(found) == limit:
                break
        return tuple(found)

    @staticmethod
    def _candidate(place: NamedPlace, score: float) -> Candidate:
        return Candidate(place.name, place.kind, place.lon, place.lat, min(score, 1.0))


def _unique(places: list[NamedPlace]) -> list[NamedPlace]:
    seen: set[str] = set()
    found = []
    for place in places:
        if place.key not in seen:
            seen.add(place.key)
            found.append(place)
    return found


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dx = (lon2 - lon1) * _METRES_PER_DEGREE * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * _METRES_PER_DEGREE
    return math.hypot(dx, dy)
