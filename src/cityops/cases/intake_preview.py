"""Intake preview: what intake would suggest for a case the clerk is still typing.

As the clerk types, the form shows the suggested matter class (top 3 with their confidence),
where the place falls (grid, community, street, district), the proposed department and grid
worker, and the open cases of the same class nearby. The preview is built by
:meth:`cityops.cases.intake.IntakeService.preview` with the very steps of intake, and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cityops.auth.model import Department
from cityops.cases.model import Case
from cityops.catalog.reference import find_matter_class
from cityops.geo.model import Location, Place

if TYPE_CHECKING:  # intake imports this module
    from cityops.cases.intake import Duplicate


@dataclass(frozen=True, slots=True)
class IntakePreview:
    """The suggestions, place, route and duplicates of a provisional case."""

    suggestions: tuple[dict[str, Any], ...]
    matter_code: str | None
    location: dict[str, Any] | None
    location_note: dict[str, Any] | None
    department_code: str | None
    department_name: str | None
    grid_worker: str | None
    route_certain: bool
    duplicates: tuple[dict[str, Any], ...]

    @classmethod
    def of(
        cls,
        case: Case,
        location: Location | None,
        note: dict[str, Any] | None,
        certain: bool,
        duplicates: Sequence[Duplicate],
        department: Department | None,
    ) -> IntakePreview:
        """Describe the provisional ``case`` once placed, classified and routed."""
        suggestions = list(case.suggestions)
        if case.class_source == "clerk" and case.matter_code:
            suggestions = [{"code": case.matter_code, "confidence": 1.0, "source": "clerk"}]
        return cls(
            suggestions=tuple(_named(s) for s in suggestions),
            matter_code=case.matter_code,
            location=_location(case, location),
            location_note=note,
            department_code=case.department_code,
            department_name=department.name if department else None,
            grid_worker=case.grid_worker,
            route_certain=certain,
            duplicates=tuple(d.as_json() for d in duplicates),
        )

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "suggestions": [dict(s) for s in self.suggestions],
            "matter_code": self.matter_code,
            "location": self.location,
            "location_note": self.location_note,
            "department_code": self.department_code,
            "department_name": self.department_name,
            "grid_worker": self.grid_worker,
            "route_certain": self.route_certain,
            "duplicates": [dict(d) for d in self.duplicates],
        }


def _named(suggestion: dict[str, Any]) -> dict[str, Any]:
    """Return a suggestion with its class name (as the classify endpoint answers)."""
    found = find_matter_class(suggestion["code"])
    return {
        "code": suggestion["code"],
        "name": found.name if found else None,
        "confidence": suggestion["confidence"],
        "source": suggestion["source"],
    }


def _location(case: Case, location: Location | None) -> dict[str, Any] | None:
    """Return where the case lies, with its divisions' names; None while it has no point."""
    if case.lon is None or case.lat is None:
        return None

    def name(place: Place | None) -> str | None:
        return place.name if place else None

    return {
        "lon": case.lon,
        "lat": case.lat,
        "source": case.location_source,
        "grid_code": case.grid_code,
        "grid_name": location.grid_name if location else None,
        "community_code": case.community_code,
        "community_name": name(location.community) if location else None,
        "street_code": case.street_code,
        "street_name": name(location.street) if location else None,
        "district_code": case.district_code,
        "district_name": name(location.district) if location else None,
    }
