"""Divisions (with their validity period), import reports and located places."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from cityops.geo.codes import Level


@dataclass(frozen=True, slots=True)
class Division:
    """One version of a division or grid: valid from ``valid_from`` until ``valid_to``."""

    code: str
    name: str
    level: Level
    parent_code: str | None
    geometry: BaseGeometry
    area_m2: float
    valid_from: datetime
    valid_to: datetime | None = None

    @property
    def current(self) -> bool:
        """True for the version in force now."""
        return self.valid_to is None


@dataclass(frozen=True, slots=True)
class DivisionInput:
    """A division as read from a file, before it is checked and stored."""

    index: int
    code: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry | None


@dataclass(frozen=True, slots=True)
class FeatureIssue:
    """What is wrong with one feature of an import (its position, code, field and rule)."""

    index: int
    code: str | None
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        code = f" ({self.code})" if self.code else ""
        return f"features[{self.index}].{self.field}{code}: {self.message} (rule: {self.rule})"


@dataclass(slots=True)
class ImportReport:
    """The outcome of an import: what was created, changed, left alone, and refused."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    issues: list[FeatureIssue] = field(default_factory=list)
    written: bool = False

    def summary(self) -> dict[str, object]:
        """Return counts and the issues as JSON-ready data."""
        return {
            "written": self.written,
            "created": len(self.created),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "issues": [
                {
                    "index": i.index,
                    "code": i.code,
                    "field": i.field,
                    "rule": i.rule,
                    "message": i.message,
                }
                for i in self.issues
            ],
        }


@dataclass(frozen=True, slots=True)
class Place:
    """A named level in a location answer."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where a point falls: its grid and the community, street and district above it."""

    grid_id: str | None = None
    grid_name: str | None = None
    community: Place | None = None
    street: Place | None = None
    district: Place | None = None

    def as_json(self) -> dict[str, object]:
        """Return the location as JSON-ready data (null where outside every grid)."""

        def place(p: Place | None) -> dict[str, str] | None:
            return {"code": p.code, "name": p.name} if p else None

        return {
            "grid_id": self.grid_id,
            "grid_name": self.grid_name,
            "community": place(self.community),
            "street": place(self.street),
            "district": place(self.district),
        }
