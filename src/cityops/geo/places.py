"""The gazetteer service: import roads, addresses and POIs; resolve text to a point and a grid."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import shapely
from shapely.geometry import Point

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.geo.gazetteer import KINDS, Gazetteer, NamedPlace, Resolution
from cityops.geo.geometry import from_geojson
from cityops.geo.locate import LocationService
from cityops.geo.model import Location
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWork, UnitOfWorkFactory

MAX_TEXT = 200


class PlaceRepository(Protocol):
    """Places in a store."""

    def all(self) -> list[NamedPlace]:
        """Return every place."""
        ...

    def keys(self) -> dict[str, NamedPlace]:
        """Return every place by key."""
        ...

    def upsert_many(self, items: Sequence[NamedPlace]) -> None:
        """Insert or replace places by key."""
        ...

    def revision(self) -> tuple[int, int]:
        """Return a value that changes whenever places change."""
        ...

    def in_box(
        self, box: tuple[float, float, float, float], kinds: Sequence[str], limit: int
    ) -> list[PlacePoint]:
        """Return up to ``limit`` places of ``kinds`` whose point lies in a lon/lat box, by id."""
        ...


@dataclass(frozen=True, slots=True)
class PlacePoint:
    """A place reduced to its point, for a map layer."""

    id: int
    kind: str
    name: str
    lon: float
    lat: float


class PlacesUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the places repository."""

    @property
    def places(self) -> PlaceRepository:
        """The gazetteer's places."""
        ...


@dataclass(frozen=True, slots=True)
class PlaceIssue:
    """What is wrong with one input row or feature."""

    row: int
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message} (rule: {self.rule})"


@dataclass(slots=True)
class PlaceImportReport:
    """What an import stored and what it refused."""

    stored: int = 0
    unchanged: int = 0
    issues: list[PlaceIssue] = field(default_factory=list)
    written: bool = False

    def summary(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "written": self.written,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "issues": [
                {"row": i.row, "field": i.field, "rule": i.rule, "message": i.message}
                for i in self.issues
            ],
        }


def place_from_row(
    row: Mapping[str, Any], index: int
) -> tuple[NamedPlace | None, list[PlaceIssue]]:
    """Check one row: ``kind, name, key, aliases`` and either ``geometry`` or ``lon, lat``."""
    issues: list[PlaceIssue] = []
    kind = str(row.get("kind") or "").strip()
    name = str(row.get("name") or "").strip()
    key = str(row.get("key") or "").strip() or f"{kind}:{name}"
    if kind not in KINDS:
        issues.append(PlaceIssue(index, "kind", "one_of", f"one of {', '.join(KINDS)}"))
    if not name or len(name) > 100:
        issues.append(PlaceIssue(index, "name", "length", "1–100 characters"))
    if len(key) > 64:
        issues.append(PlaceIssue(index, "key", "max_length", "at most 64 characters"))
    aliases_raw = row.get("aliases") or ()
    aliases = tuple(
        a.strip()
        for a in (aliases_raw.split("|") if isinstance(aliases_raw, str) else aliases_raw)
        if str(a).strip()
    )
    geometry = _geometry(row, index, issues)
    if issues or geometry is None:
        return None, issues
    if kind == "road" and geometry.geom_type not in ("LineString", "MultiLineString"):
        return None, [PlaceIssue(index, "geometry", "geometry_type", "a road is a line")]
    if kind != "road" and geometry.geom_type != "Point":
        return None, [PlaceIssue(index, "geometry", "geometry_type", f"a {kind} is a point")]
    return NamedPlace(key=key, kind=kind, name=name, geometry=geometry, aliases=aliases), []


def _geometry(row: Mapping[str, Any], index: int, issues: list[PlaceIssue]) -> Any:
    if row.get("geometry") is not None:
        try:
            geometry = from_geojson(row["geometry"])
        except ValueError as error:
            issues.append(PlaceIssue(index, "geometry", "geometry_format", str(error)))
            return None
    else:
        try:
            lon, lat = float(row.get("lon", "nan")), float(row.get("lat", "nan"))
        except (TypeError, ValueError):
            lon = lat = math.nan
        geometry = Point(lon, lat)
    min_x, min_y, max_x, max_y = geometry.bounds if not geometry.is_empty else (math.nan,) * 4
    if not all(math.isfinite(v) for v in (min_x, min_y, max_x, max_y)) or not (
        -180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90
    ):
        issues.append(
            PlaceIssue(index, "geometry", "coordinates_range", "lon/lat in degrees are required")
        )
        return None
    return geometry


class GazetteerService:
    """Import places and resolve text; the index is rebuilt when the places change."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[PlacesUnitOfWork],
        clock: Clock,
        locations: LocationService,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._locations = locations
        self._cached: tuple[tuple[int, int], Gazetteer] | None = None
        self._lock = threading.Lock()

    def import_rows(
        self, principal: Principal, rows: Sequence[Mapping[str, Any]], *, skip_invalid: bool = False
    ) -> PlaceImportReport:
        """Store places (replacing those with the same key); atomic unless ``skip_invalid``."""
        report = PlaceImportReport()
        good: dict[str, NamedPlace] = {}
        for index, row in enumerate(rows, start=1):
            place, issues = place_from_row(row, index)
            report.issues.extend(issues)
            if place is not None:
                good[place.key] = place
        if report.issues and not skip_invalid:
            return report
        with self._unit_of_work() as uow:
            grant = principal.authorize("geo:write")
            stored = uow.places.keys()
            changed = [p for p in good.values() if _differs(stored.get(p.key), p)]
            report.unchanged = len(good) - len(changed)
            uow.places.upsert_many(changed)
            report.stored = len(changed)
            if changed:
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="places.import",
                        object_type="places",
                        object_id=str(len(changed)),
                        after={
                            "stored": [p.key for p in changed][:1000],
                            "skipped": [i.row for i in report.issues],
                        },
                    )
                )
            uow.commit()
        report.written = True
        return report

    def resolve(self, principal: Principal, text: str) -> tuple[Resolution, Location | None]:
        """Resolve text to a point and the grid it falls in (or not found with candidates)."""
        principal.require_somewhere("geo:read")
        if not text.strip() or len(text) > MAX_TEXT:
            raise ValidationFailed.single("text", "length", f"1–{MAX_TEXT} characters")
        resolution = self._gazetteer().resolve(text)
        if not resolution.found or resolution.lon is None or resolution.lat is None:
            return resolution, None
        return resolution, self._locations.locate(principal, resolution.lon, resolution.lat)

    def _gazetteer(self) -> Gazetteer:
        with self._unit_of_work(read_only=True) as uow:
            revision = uow.places.revision()
        with self._lock:
            if self._cached is None or self._cached[0] != revision:
                with self._unit_of_work(read_only=True) as uow:
                    self._cached = (uow.places.revision(), Gazetteer(uow.places.all()))
            return self._cached[1]


def _differs(stored: NamedPlace | None, new: NamedPlace) -> bool:
    if stored is None:
        return True
    return (stored.kind, stored.name, stored.aliases) != (new.kind, new.name, new.aliases) or not (
        shapely.equals_exact(stored.geometry, new.geometry, tolerance=1e-9)
    )
