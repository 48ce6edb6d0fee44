"""Locating points: the current grid layer in a cached vectorised index, and history by date."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import shapely

from cityops.auth.model import Principal
from cityops.geo.codes import Level
from cityops.geo.locator import GridLocator
from cityops.geo.model import Location, Place
from cityops.geo.ports import GeoUnitOfWork
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

MAX_BATCH = 1_000_000


@dataclass(frozen=True)
class _Snapshot:
    revision: tuple[int, int]
    locator: GridLocator
    names: dict[str, tuple[str, Level, str | None]]
    # Each grid's Location, built on first use (a Location is immutable; so is the snapshot).
    locations: dict[str, Location] = field(default_factory=dict)

    def location(self, grid_code: str | None) -> Location:
        """Return the Location of a grid of this snapshot (the empty one for None)."""
        if grid_code is None:
            return Location()
        found = self.locations.get(grid_code)
        if found is None:
            found = LocationService._location(grid_code, self.names)
            self.locations[grid_code] = found
        return found


def check_point(lon: float, lat: float, *, field: str = "") -> None:
    """Raise ValidationFailed unless lon/lat are finite degrees in range."""
    prefix = f"{field}." if field else ""
    if not math.isfinite(lon) or not -180 <= lon <= 180:
        raise ValidationFailed.single(f"{prefix}lon", "range", "longitude must be in [-180, 180]")
    if not math.isfinite(lat) or not -90 <= lat <= 90:
        raise ValidationFailed.single(f"{prefix}lat", "range", "latitude must be in [-90, 90]")


class LocationService:
    """Point → grid, community, street and district."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory[GeoUnitOfWork], recheck_seconds: float = 2.0
    ) -> None:
        self._unit_of_work = unit_of_work
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        # Another process's grid import is seen within this many seconds; this process's own
        # imports call invalidate() and are seen at once.
        self._recheck_seconds = recheck_seconds
        self._checked_at = float("-inf")

    def locate(self, principal: Principal, lon: float, lat: float) -> Location:
        """Return where one point falls now."""
        check_point(lon, lat)
        principal.require_somewhere("geo:read")
        snapshot = self._current()
        return snapshot.location(snapshot.locator.locate_one(lon, lat))

    def locate_many(
        self, principal: Principal, lons: Sequence[float], lats: Sequence[float]
    ) -> list[Location]:
        """Return where each point falls now (vectorised)."""
        principal.require_somewhere("geo:read")
        if len(lons) != len(lats):
            raise ValidationFailed.single("points", "same_length", "as many lon as lat values")
        if len(lons) > MAX_BATCH:
            raise ValidationFailed.single("points", "max_items", f"at most {MAX_BATCH:,} points")
        snapshot = self._current()
        found = snapshot.locator.locate(lons, lats)
        return [snapshot.location(code) for code in found]

    def grid_ids(self, lons: Sequence[float], lats: Sequence[float]) -> list[str | None]:
        """Return just the grid id of each point (for bulk jobs and benchmarks)."""
        return self._current().locator.locate(lons, lats)

    def placer(
        self, lons: Sequence[float], lats: Sequence[float]
    ) -> list[tuple[str | None, tuple[str, str] | None, tuple[str, str] | None]]:
        """Return (grid, (community code, name), (street code, name)) of each point."""
        snapshot = self._current()
        found = []
        for code in snapshot.locator.locate(lons, lats):
            location = self._location(code, snapshot.names)
            found.append(
                (
                    location.grid_id,
                    (location.community.code, location.community.name)
                    if location.community
                    else None,
                    (location.street.code, location.street.name) if location.street else None,
                )
            )
        return found

    def locate_at(self, principal: Principal, lon: float, lat: float, when: datetime) -> Location:
        """Return where a point fell at ``when`` (old cases keep the grid they were filed in)."""
        principal.require_somewhere("geo:read")
        check_point(lon, lat)
        point = shapely.Point(lon, lat)
        with self._unit_of_work(read_only=True) as uow:
            grids = sorted(
                (
                    g
                    for g in uow.divisions.containing_at(lon, lat, Level.GRID, when)
                    if shapely.intersects(g.geometry, point)
                ),
                key=lambda g: g.code,
            )
            if not grids:
                return Location()
            chain: dict[str, tuple[str, Level, str | None]] = {
                grids[0].code: (grids[0].name, Level.GRID, grids[0].parent_code)
            }
            code = grids[0].parent_code
            while code is not None:
                version = uow.divisions.at(code, when)
                if version is None:
                    break
                chain[code] = (version.name, version.level, version.parent_code)
                code = version.parent_code
        return self._location(grids[0].code, chain)

    def invalidate(self) -> None:
        """Forget the cached index (it is also rebuilt whenever the stored grids change)."""
        with self._lock:
            self._snapshot = None

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self._recheck_seconds:
            return snapshot
        with self._unit_of_work(read_only=True) as uow:
            revision = uow.divisions.revision()
        self._checked_at = time.monotonic()
        with self._lock:
            if self._snapshot is not None and self._snapshot.revision == revision:
                return self._snapshot
            with self._unit_of_work(read_only=True) as uow:
                revision = uow.divisions.revision()
                grids = uow.divisions.list_current(level=Level.GRID)
                names = uow.divisions.current_names()
            locator = GridLocator([g.code for g in grids], [g.geometry for g in grids])
            self._snapshot = _Snapshot(revision, locator, names)
            return self._snapshot

    @staticmethod
    def _location(
        grid_code: str | None, names: dict[str, tuple[str, Level, str | None]]
    ) -> Location:
        if grid_code is None:
            return Location()
        places: dict[Level, Place] = {}
        code: str | None = grid_code
        while code is not None and code in names:
            name, level, parent = names[code]
            places[level] = Place(code, name)
            code = parent
        grid = places.get(Level.GRID)
        return Location(
            grid_id=grid_code,
            grid_name=grid.name if grid else None,
            community=places.get(Level.COMMUNITY),
            street=places.get(Level.STREET),
            district=places.get(Level.DISTRICT),
        )
