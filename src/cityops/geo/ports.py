"""What the geography domain needs from a store (implemented in cityops.storage)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from cityops.auth.ports import AccountsUnitOfWork
from cityops.geo.codes import Level
from cityops.geo.model import Division


class DivisionRepository(Protocol):
    """Versions of divisions and grids; the current version has no ``valid_to``."""

    def current(self, code: str) -> Division | None:
        """Return the version of ``code`` in force now."""
        ...

    def at(self, code: str, when: datetime) -> Division | None:
        """Return the version of ``code`` that was in force at ``when``."""
        ...

    def history(self, code: str) -> list[Division]:
        """Return every version of ``code``, oldest first."""
        ...

    def current_checksums(self, codes: Iterable[str]) -> dict[str, str]:
        """Return the checksum of the current version of each existing code."""
        ...

    def list_current(
        self,
        *,
        level: Level | None = None,
        parent_code: str | None = None,
        code_prefix: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = None,
    ) -> list[Division]:
        """Return current divisions filtered by level, parent, code prefix and bbox."""
        ...

    def containing_at(self, lon: float, lat: float, level: Level, when: datetime) -> list[Division]:
        """Return versions of ``level`` valid at ``when`` whose bounding box holds the point."""
        ...

    def current_names(self) -> dict[str, tuple[str, Level, str | None]]:
        """Return ``code → (name, level, parent_code)`` of every current division."""
        ...

    def add_version(self, division: Division, checksum: str) -> None:
        """Insert a new current version."""
        ...

    def close_version(self, code: str, when: datetime) -> None:
        """End the current version of ``code`` at ``when``."""
        ...

    def revision(self) -> tuple[int, int]:
        """Return a value that changes whenever any version is added or closed."""
        ...


class GridAssignmentRepository(Protocol):
    """Grid workers and responsible units per grid."""

    def workers(self, grid_code: str) -> list[str]:
        """Return the usernames of the grid's workers."""
        ...

    def add_worker(self, grid_code: str, username: str, when: datetime) -> bool:
        """Add a worker; False if already assigned."""
        ...

    def remove_worker(self, grid_code: str, username: str) -> bool:
        """Remove a worker; False if not assigned."""
        ...

    def units(self, grid_code: str) -> dict[tuple[str, str], str]:
        """Return ``(key_kind, key) → unit_code`` for the grid."""
        ...

    def units_and_workers(self, grid_code: str) -> tuple[dict[tuple[str, str], str], list[str]]:
        """Return :meth:`units` and :meth:`workers` of the grid (in one query)."""
        ...

    def set_unit(
        self, grid_code: str, key_kind: str, key: str, unit_code: str | None, when: datetime
    ) -> str | None:
        """Set (or with None, clear) a responsible unit; return the previous unit."""
        ...

    def all_workers(self) -> set[tuple[str, str]]:
        """Return every (grid, username) assignment."""
        ...

    def all_units(self) -> dict[tuple[str, str, str], str]:
        """Return every (grid, key_kind, key) → unit assignment."""
        ...

    def add_workers_many(self, rows: Sequence[tuple[str, str]], when: datetime) -> None:
        """Insert new (grid, username) assignments in one batch."""
        ...

    def add_units_many(self, rows: Sequence[tuple[str, str, str, str]], when: datetime) -> None:
        """Insert new (grid, key_kind, key, unit) assignments in one batch."""
        ...

    def grids_of_worker(self, username: str) -> list[str]:
        """Return the grids a worker is assigned to."""
        ...

    def revision(self) -> tuple[int, str, int, str]:
        """Return a value that changes whenever a worker or a unit is assigned or removed."""
        ...


class GeoUnitOfWork(AccountsUnitOfWork, Protocol):
    """A transaction with the geography repositories."""

    @property
    def divisions(self) -> DivisionRepository:
        """Divisions and grids."""
        ...

    @property
    def grid_assignments(self) -> GridAssignmentRepository:
        """Grid workers and responsible units."""
        ...
