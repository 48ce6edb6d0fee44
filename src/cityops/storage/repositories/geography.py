"""Divisions with history, grid workers and responsible units in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from cityops.geo.codes import Level
from cityops.geo.model import Division
from cityops.storage.schema import divisions, grid_assignments, grid_workers

_CHUNK = 500


def _division(row: Any) -> Division:
    return Division(
        code=row["code"],
        name=row["name"],
        level=Level(row["level"]),
        parent_code=row["parent_code"],
        geometry=shapely.from_wkb(row["geometry"]),
        area_m2=row["area_m2"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
    )


# Built once: intake reads these for every case (see benchmarks/cases.py).
_WORKERS_OF_GRID = (
    select(grid_workers.c.username)
    .where(grid_workers.c.grid_code == bindparam("grid"))
    .order_by(grid_workers.c.username)
)
_UNITS_OF_GRID = select(
    grid_assignments.c.key_kind, grid_assignments.c.key, grid_assignments.c.unit_code
).where(grid_assignments.c.grid_code == bindparam("grid"))

# Intake routes every case: the units and the workers of its grid in one round trip.
_UNITS_AND_WORKERS = (
    select(
        literal_column("0").label("part"),
        grid_assignments.c.key_kind,
        grid_assignments.c.key,
        grid_assignments.c.unit_code,
    )
    .where(grid_assignments.c.grid_code == bindparam("grid"))
    .union_all(
        select(
            literal_column("1"),
            grid_workers.c.username,
            grid_workers.c.username,
            grid_workers.c.username,
        ).where(grid_workers.c.grid_code == bindparam("grid"))
    )
    .order_by(literal_column("1"), literal_column("3"))  # part, then key (username)
)


class SqlDivisionRepository:
    """Versions of divisions; ``valid_to IS NULL`` marks the current one."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def current(self, code: str) -> Division | None:
        """Return the current version."""
        row = (
            self._connection.execute(
                select(divisions).where(divisions.c.code == code, divisions.c.valid_to.is_(None))
            )
            .mappings()
            .first()
        )
        return _division(row) if row is not None else None

    def at(self, code: str, when: datetime) -> Division | None:
        """Return the version in force at ``when``."""
        row = (
            self._connection.execute(
                select(divisions).where(divisions.c.code == code, self._valid_at(when))
            )
            .mappings()
            .first()
        )
        return _division(row) if row is not None else None

    def history(self, code: str) -> list[Division]:
        """Return all versions, oldest first."""
        rows = self._connection.execute(
            select(divisions).where(divisions.c.code == code).order_by(divisions.c.id)
        ).mappings()
        return [_division(row) for row in rows]

    def current_checksums(self, codes: Iterable[str]) -> dict[str, str]:
        """Return code → checksum of current versions."""
        wanted = list(codes)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = self._connection.execute(
                select(divisions.c.code, divisions.c.checksum).where(
                    divisions.c.code.in_(wanted[start : start + _CHUNK]),
                    divisions.c.valid_to.is_(None),
                )
            )
            found.update({code: checksum for code, checksum in rows})
        return found

    def list_current(
        self,
        *,
        level: Level | None = None,
        parent_code: str | None = None,
        code_prefix: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = None,
    ) -> list[Division]:
        """Return current divisions by filters, ordered by code."""
        query = select(divisions).where(divisions.c.valid_to.is_(None))
        if level is not None:
            query = query.where(divisions.c.level == level.value)
        if parent_code is not None:
            query = query.where(divisions.c.parent_code == parent_code)
        if code_prefix:
            query = query.where(divisions.c.code.startswith(code_prefix, autoescape=True))
        if bbox is not None:
            query = query.where(self._overlaps(bbox))
        query = query.order_by(divisions.c.code)
        if limit is not None:
            query = query.limit(limit)
        return [_division(row) for row in self._connection.execute(query).mappings()]

    def containing_at(self, lon: float, lat: float, level: Level, when: datetime) -> list[Division]:
        """Return versions valid at ``when`` whose bounding box contains the point."""
        rows = self._connection.execute(
            select(divisions).where(
                divisions.c.level == level.value,
                self._valid_at(when),
                self._overlaps((lon, lat, lon, lat)),
            )
        ).mappings()
        return [_division(row) for row in rows]

    def current_names(self) -> dict[str, tuple[str, Level, str | None]]:
        """Return code → (name, level, parent) of current divisions."""
        rows = self._connection.execute(
            select(
                divisions.c.code, divisions.c.name, divisions.c.level, divisions.c.parent_code
            ).where(divisions.c.valid_to.is_(None))
        )
        return {code: (name, Level(level), parent) for code, name, level, parent in rows}

    def add_version(self, division: Division, checksum: str) -> None:
        """Insert a current version."""
        self.add_versions([(division, checksum)])

    def add_versions(self, versions: list[tuple[Division, str]]) -> None:
        """Insert many current versions in one batched statement."""
        if not versions:
            return
        rows = []
        for division, checksum in versions:
            min_lon, min_lat, max_lon, max_lat = division.geometry.bounds
            rows.append(
                {
                    "code": division.code,
                    "level": division.level.value,
                    "name": division.name,
                    "parent_code": division.parent_code,
                    "geometry": shapely.to_wkb(division.geometry),
                    "min_lon": min_lon,
                    "min_lat": min_lat,
                    "max_lon": max_lon,
                    "max_lat": max_lat,
                    "area_m2": division.area_m2,
                    "checksum": checksum,
                    "valid_from": division.valid_from,
                    "valid_to": None,
                }
            )
        self._connection.execute(insert(divisions), rows)

    def close_version(self, code: str, when: datetime) -> None:
        """End the current version."""
        self._connection.execute(
            update(divisions)
            .where(divisions.c.code == code, divisions.c.valid_to.is_(None))
            .values(valid_to=when)
        )

    def revision(self) -> tuple[int, int]:
        """Return (highest id, number of current versions)."""
        row = self._connection.execute(
            select(
                func.coalesce(func.max(divisions.c.id), 0),
                func.count().filter(divisions.c.valid_to.is_(None)),
            )
        ).one()
        return int(row[0]), int(row[1])

    @staticmethod
    def _valid_at(when: datetime) -> Any:
        return and_(
            divisions.c.valid_from <= when,
            or_(divisions.c.valid_to.is_(None), divisions.c.valid_to > when),
        )

    @staticmethod
    def _overlaps(bbox: tuple[float, float, float, float]) -> Any:
        min_lon, min_lat, max_lon, max_lat = bbox
        return and_(
            divisions.c.min_lon <= max_lon,
            divisions.c.max_lon >= min_lon,
            divisions.c.min_lat <= max_lat,
            divisions.c.max_lat >= min_lat,
        )


class SqlGridAssignmentRepository:
    """Grid workers and responsible units."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def workers(self, grid_code: str) -> list[str]:
        """Return the grid's workers."""
        rows = self._connection.execute(_WORKERS_OF_GRID, {"grid": grid_code})
        return [username for (username,) in rows]

    def add_worker(self, grid_code: str, username: str, when: datetime) -> bool:
        """Assign a worker."""
        if username in self.workers(grid_code):
            return False
        self._connection.execute(
            insert(grid_workers).values(grid_code=grid_code, username=username, assigned_at=when)
        )
        return True

    def remove_worker(self, grid_code: str, username: str) -> bool:
        """Unassign a worker."""
        result = self._connection.execute(
            delete(grid_workers).where(
                grid_workers.c.grid_code == grid_code, grid_workers.c.username == username
            )
        )
        return result.rowcount > 0

    def all_workers(self) -> set[tuple[str, str]]:
        """Return every (grid, username) pair."""
        rows = self._connection.execute(select(grid_workers.c.grid_code, grid_workers.c.username))
        return {(grid, user) for grid, user in rows}

    def all_units(self) -> dict[tuple[str, str, str], str]:
        """Return every (grid, key_kind, key) → unit."""
        rows = self._connection.execute(
            select(
                grid_assignments.c.grid_code,
                grid_assignments.c.key_kind,
                grid_assignments.c.key,
                grid_assignments.c.unit_code,
            )
        )
        return {(grid, kind, key): unit for grid, kind, key, unit in rows}

    def add_workers_many(self, rows: Sequence[tuple[str, str]], when: datetime) -> None:
        """Insert worker assignments in one batched statement."""
        if rows:
            self._connection.execute(
                insert(grid_workers),
                [{"grid_code": g, "username": u, "assigned_at": when} for g, u in rows],
            )

    def add_units_many(self, rows: Sequence[tuple[str, str, str, str]], when: datetime) -> None:
        """Insert unit assignments in one batched statement."""
        if rows:
            self._connection.execute(
                insert(grid_assignments),
                [
                    {
                        "grid_code": g,
                        "key_kind": kind,
                        "key": key,
                        "unit_code": unit,
                        "assigned_at": when,
                    }
                    for g, kind, key, unit in rows
                ],
            )

    def grids_of_worker(self, username: str) -> list[str]:
        """Return a worker's grids."""
        rows = self._connection.execute(
            select(grid_workers.c.grid_code)
            .where(grid_workers.c.username == username)
            .order_by(grid_workers.c.grid_code)
        )
        return [code for (code,) in rows]

    def revision(self) -> tuple[int, str, int, str]:
        """Return (count, newest assignment) of workers and of units, in one query."""
        row = self._connection.execute(
            select(
                select(func.count()).select_from(grid_workers).scalar_subquery(),
                select(func.max(grid_workers.c.assigned_at)).scalar_subquery(),
                select(func.count()).select_from(grid_assignments).scalar_subquery(),
                select(func.max(grid_assignments.c.assigned_at)).scalar_subquery(),
            )
        ).one()
        return int(row[0]), str(row[1]), int(row[2]), str(row[3])

    def units(self, grid_code: str) -> dict[tuple[str, str], str]:
        """Return (key_kind, key) → unit."""
        rows = self._connection.execute(_UNITS_OF_GRID, {"grid": grid_code})
        return {(kind, key): unit for kind, key, unit in rows}

    def units_and_workers(self, grid_code: str) -> tuple[dict[tuple[str, str], str], list[str]]:
        """Return the grid's units and workers (ordered by username) in one query."""
        rows = self._connection.execute(_UNITS_AND_WORKERS, {"grid": grid_code})
        units: dict[tuple[str, str], str] = {}
        workers: list[str] = []
        for part, kind, key, unit in rows:
            if part == 0:
                units[(kind, key)] = unit
            else:
                workers.append(key)
        return units, workers

    def set_unit(
        self, grid_code: str, key_kind: str, key: str, unit_code: str | None, when: datetime
    ) -> str | None:
        """Set or clear one responsible unit; return the previous one."""
        where = and_(
            grid_assignments.c.grid_code == grid_code,
            grid_assignments.c.key_kind == key_kind,
            grid_assignments.c.key == key,
        )
        previous = self._connection.execute(
            select(grid_assignments.c.unit_code).where(where)
        ).scalar()
        self._connection.execute(delete(grid_assignments).where(where))
        if unit_code is not None:
            self._connection.execute(
                insert(grid_assignments).values(
                    grid_code=grid_code,
                    key_kind=key_kind,
                    key=key,
                    unit_code=unit_code,
                    assigned_at=when,
                )
            )
        return previous
