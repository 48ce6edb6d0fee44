"""The command center's one map: what the markers, the shading and the layers show.

- **Case markers**: the open cases a reader may find in the case search (the ``cases:read``
  visibility; the command center itself asks for ``analytics:read``), each with its number,
  point, matter class, status and light. The light is the live one of the store: red once
  ``due_at`` has passed, yellow once ``yellow_at`` has, green while the clock runs, the frozen
  light while it is stopped (:mod:`cityops.cases.deadlines` computes both moments so that the
  store can tell lights without a calendar), none before dispatch. The same light counts the
  shading's overdue cases and the overdue card. At most :data:`MAP_CASES_LIMIT` markers, the
  most urgent first (red, yellow, green, none), newest first within a light.
- **Shading measures**: open cases, overdue (red) cases, or open cases per km² of each child
  division (its ``area_m2`` in the geography model).
- **Layers**: components (管理部件) and gazetteer points (POIs, addresses) inside a small
  lon/lat box, capped; the map asks for them only when zoomed in.

Pure: the store's rows come in through :class:`cityops.cases.ports.CaseRepository`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityops.cases.model import case_number
from cityops.cases.queries import OpenCounts
from cityops.cases.workflow import STATUS_LABELS_ZH, Status
from cityops.catalog.components import Component
from cityops.catalog.reference import component_classes, find_matter_class
from cityops.geo.places import PlacePoint
from cityops.kernel.errors import ValidationFailed

MAP_CASES_LIMIT = 5_000
COMPONENTS_LIMIT = 2_000
PLACES_LIMIT = 1_000
MAX_BOX_DEGREES = 0.1  # a box at most about 10 km a side: the map asks from zoom 16 on
PLACE_KINDS = ("poi", "address")
LIGHT_ORDER = ("red", "yellow", "green")


@dataclass(frozen=True, slots=True)
class MapCase:
    """An open case as a marker: where it is, what it is about, its live light."""

    id: int
    accepted_at: datetime
    lon: float
    lat: float
    status: str
    light: str | None  # red, yellow, green; None before dispatch
    matter_code: str | None


def check_limit(limit: int, maximum: int) -> int:
    """Return ``limit`` or raise ValidationFailed naming the field."""
    if not 1 <= limit <= maximum:
        raise ValidationFailed.single("limit", "range", f"must be between 1 and {maximum}")
    return limit


def parse_box(text: str) -> tuple[float, float, float, float]:
    """Return ``min_lon,min_lat,max_lon,max_lat`` as numbers: in range, ordered and small."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValidationFailed.single("bbox", "bbox_format", "use min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationFailed.single(
            "bbox", "bbox_order", "longitudes in -180..180, latitudes in -90..90, min ≤ max"
        )
    if max_lon - min_lon > MAX_BOX_DEGREES or max_lat - min_lat > MAX_BOX_DEGREES:
        raise ValidationFailed.single(
            "bbox", "bbox_size", f"at most {MAX_BOX_DEGREES}° a side: zoom in"
        )
    return min_lon, min_lat, max_lon, max_lat


def check_place_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """Return the place kinds asked for (POIs by default) or raise ValidationFailed."""
    wrong = [k for k in kinds if k not in PLACE_KINDS]
    if wrong:
        raise ValidationFailed.single("kind", "one_of", f"use {' or '.join(PLACE_KINDS)}")
    return tuple(sorted(set(kinds))) or ("poi",)


def case_markers(
    found: Sequence[MapCase], total: int, limit: int, zone: ZoneInfo
) -> dict[str, Any]:
    """Return the markers (at most ``limit``), how many there are, and whether some are left out."""
    items = []
    for case in found[:limit]:
        matter = find_matter_class(case.matter_code)
        items.append(
            {
                "number": case_number(case.id, case.accepted_at, zone),
                "lon": case.lon,
                "lat": case.lat,
                "light": case.light,
                "matter": {"code": case.matter_code, "name": matter.name if matter else None},
                "status": case.status,
                "status_label": STATUS_LABELS_ZH[Status(case.status)],
            }
        )
    return {
        "items": items,
        "count": len(items),
        "total": max(total, len(items)),
        "limit": limit,
        "truncated": total > len(items),
    }


def component_markers(found: Sequence[Component], limit: int) -> dict[str, Any]:
    """Return components as points with their class and status, capped at ``limit``."""
    classes = component_classes()
    items = []
    for component in found[:limit]:
        kind = classes.get(component.class_code)
        items.append(
            {
                "id": component.id,
                "name": component.name,
                "class_code": component.class_code,
                "class_name": kind.name if kind else None,
                "status": component.status,
                "lon": component.lon,
                "lat": component.lat,
            }
        )
    return {"items": items, "count": len(items), "truncated": len(found) > limit}


def place_markers(found: Sequence[PlacePoint], limit: int) -> dict[str, Any]:
    """Return gazetteer points, capped at ``limit``."""
    items = [
        {"id": p.id, "kind": p.kind, "name": p.name, "lon": p.lon, "lat": p.lat}
        for p in found[:limit]
    ]
    return {"items": items, "count": len(items), "truncated": len(found) > limit}


def child_areas(children: Iterable[OpenCounts], areas: Mapping[str, float]) -> list[dict[str, Any]]:
    """Return each child division's area and open cases per km² (0 where none is open).

    Every child division with an area is listed, with or without open cases; a division of no
    area (not drawn) has no density.
    """
    open_cases = {c.code: c.open for c in children}
    found = []
    for code in sorted(areas):
        area = areas[code]
        km2 = area / 1_000_000
        density = round(open_cases.get(code, 0) / km2, 2) if km2 > 0 else None
        found.append({"code": code, "area_m2": round(area, 1), "open_per_km2": density})
    return found
